#!/usr/bin/env bash
# usage: distributed_checks.sh CHECK APPS_DIR WORK_DIR "MPIRUN [ARGS]" IDX_TO_FOLDER
# The apps trained data parallel under mpirun with two ranks (ctest label `distributed`):
#   equal_to_one_process   2 ranks x batch 32 against 1 process x batch 64: per-epoch loss and
#                          accuracy; a rerun is identical
#   checkpoint_and_resume  2 epochs, checkpoint, resume to 3 == 3 uninterrupted (bit for bit)
#   fp16_checkpoint_and_resume  the same in --precision fp16, the loss scale included
#   rank_killed            kill -9 of rank 1 mid-run: mpirun ends non-zero within seconds
#   bad_data_on_one_rank   a corrupt image read by rank 1 alone: every rank ends, with its name
#   sweep_ranks            sweep --vary ranks=1,2: images/s, scaling, all-reduce profile
#   compare_ranks          compare_devices --ranks 1,2
#   usage                  usage errors of the ranks options
# Every run is bounded by `timeout`: a hang fails the check instead of stalling CI.
set -uo pipefail
check=$1 apps=$2 work=$3 mpirun=$4 idx_to_folder=$5
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1

fail() {
  echo "FAIL ($check): $*"
  exit 1
}
# run LOG COMMAND...: runs with a time limit; sets $code and $seconds.
run() {
  local log=$1
  shift
  local start=$SECONDS
  timeout 240 "$@" >"$log" 2>&1
  code=$? seconds=$((SECONDS - start))
  [ "$code" = 124 ] && { cat "$log"; fail "timed out (hang): $*"; }
  return 0
}
expect_ok() {
  [ "$code" = 0 ] || { cat "$1"; fail "exit $code"; }
}
# The epoch table's loss and accuracy columns (not its times).
losses() { awk '/^[0-9]+ +[0-9.]+ +[0-9.]+%/ {print $1, $2, $3}' "$1"; }

recipe=(--limit 1280 --threads 1)
case "$check" in
equal_to_one_process)
  recipe+=(--epochs 2 --lr 0.05)
  run one.log "$apps/train" "${recipe[@]}" --batch-size 64; expect_ok one.log
  run two.log $mpirun -np 2 "$apps/train" "${recipe[@]}" --batch-size 32; expect_ok two.log
  run again.log $mpirun -np 2 "$apps/train" "${recipe[@]}" --batch-size 32; expect_ok again.log
  grep -q "data parallel: 2 ranks started by mpirun" two.log || { cat two.log; fail "not data parallel"; }
  [ "$(grep -c '^epoch' two.log)" = 1 ] || { cat two.log; fail "more than rank 0 printed"; }
  # fp32 rounding of the reduction order: the printed 4-decimal loss and the accuracy agree
  # within a unit of their last digit.
  paste <(losses one.log) <(losses two.log) | awk '
    { n++; dl = $2 - $5; da = $3 - $6; if (dl < 0) dl = -dl; if (da < 0) da = -da
      if ($1 != $4 || dl > 1.5e-4 || da > 0.015) { print "differs: " $0; bad = 1 } }
    END { if (n != 2) { print "expected 2 epochs, got " n; bad = 1 }; exit bad }' ||
    { cat one.log two.log; fail "2 ranks x 32 differ from 1 x 64"; }
  [ "$(losses two.log)" = "$(losses again.log)" ] || fail "a rerun with 2 ranks differs"
  ;;
checkpoint_and_resume | fp16_checkpoint_and_resume)
  args=("${recipe[@]}" --batch-size 32 --optimizer adam --lr 1e-3)
  # fp16: rank 0 reads the loss scale from the checkpoint and every rank must take it.
  [ "$check" = fp16_checkpoint_and_resume ] && args+=(--precision fp16)
  run a.log $mpirun -np 2 "$apps/train" "${args[@]}" --epochs 2 --checkpoint ck.safetensors; expect_ok a.log
  [ -f ck.safetensors ] || fail "no checkpoint written"
  [ "$(ls)" = "$(printf 'a.log\nck.safetensors')" ] || fail "stray files: $(ls)"
  if [ "$check" = fp16_checkpoint_and_resume ]; then
    # A short run never moves the scale from its start (2^16), so a resume that ignored the
    # saved scale would pass unseen: the checkpoint is given 2^10 in its metadata (the header
    # rewritten at its length), and the resumed run must go on from there.
    /usr/bin/python3 - ck.safetensors <<'PY' || fail "could not rewrite the checkpoint's loss scale"
import json, struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8:8 + n])
header["__metadata__"]["loss_scale"] = "1024"
text = json.dumps(header, separators=(",", ":")).encode()
assert len(text) <= n, "the new header is longer"
data[8:8 + n] = text + b" " * (n - len(text))
open(sys.argv[1], "wb").write(data)
PY
    run b.log $mpirun -np 2 "$apps/train" "${args[@]}" --epochs 3 --resume ck.safetensors; expect_ok b.log
    grep -q '^# epoch 3 loss scaling: 0 steps skipped (inf/NaN gradients), scale now 1024$' b.log ||
      { cat b.log; fail "the resumed run did not go on with the checkpoint's loss scale"; }
    exit 0
  fi
  run b.log $mpirun -np 2 "$apps/train" "${args[@]}" --epochs 3 --resume ck.safetensors; expect_ok b.log
  run c.log $mpirun -np 2 "$apps/train" "${args[@]}" --epochs 3; expect_ok c.log
  grep -q "resumed from ck.safetensors after epoch 2" b.log || { cat b.log; fail "not resumed"; }
  [ "$(losses b.log)" = "$(losses c.log | tail -1)" ] ||
    { cat b.log c.log; fail "resumed epoch 3 differs from the uninterrupted run"; }
  [ "$(grep '^# epoch 3 loss scaling' b.log)" = "$(grep '^# epoch 3 loss scaling' c.log)" ] ||
    { cat b.log c.log; fail "resumed epoch 3's loss scaling differs from the uninterrupted run"; }
  ;;
rank_killed)
  # Long enough to be killed mid-run.
  timeout 240 $mpirun -np 2 "$apps/train" --epochs 50 --threads 1 --batch-size 16 >run.log 2>&1 &
  launcher=$!
  for _ in $(seq 300); do grep -q "data parallel" run.log && break; sleep 0.1; done
  grep -q "data parallel" run.log || { cat run.log; fail "the run did not start"; }
  victim=""
  for pid in $(pgrep -f "$apps/train"); do
    tr '\0' '\n' </proc/"$pid"/environ 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1" && victim=$pid
  done
  [ -n "$victim" ] || fail "rank 1 not found"
  sleep 1
  killed_at=$SECONDS
  kill -9 "$victim"
  wait "$launcher"
  code=$? seconds=$((SECONDS - killed_at))
  [ "$code" = 124 ] && fail "hung after rank 1 was killed"
  [ "$code" != 0 ] || fail "mpirun exited 0 after rank 1 was killed"
  [ "$seconds" -le 10 ] || fail "took ${seconds}s to end after the kill"
  grep -q "rank 1 .*signal 9" run.log || { cat run.log; fail "the kill is not reported"; }
  pgrep -f "$apps/train --epochs 50" >/dev/null && fail "a rank outlived the job"
  echo "mpirun exited $code ${seconds}s after kill -9 of rank 1"
  ;;
bad_data_on_one_rank)
  data_dir="${NNLAB_DATA:-$HOME/.cache/nnlab}/mnist"
  "$idx_to_folder" "$data_dir" digits 0,1 40 10 >/dev/null || fail "idx_to_folder failed"
  # Image 12 of class 1 is read by rank 1 in the first epoch (seed 0, 2 ranks, 80 images): its
  # header stays readable (the folder is listed), its pixels are cut off.
  victim=$(ls digits/train/class_1/*.png | sed -n 12p)
  head -c 100 "$victim" >cut.png && mv cut.png "$victim"
  run bad.log $mpirun -np 2 "$apps/train" --data folder:digits --model lenet --image-size 32 \
    --epochs 2 --batch-size 8 --threads 1
  [ "$code" = 1 ] || { cat bad.log; fail "exit $code with a corrupt image, expected 1"; }
  [ "$seconds" -le 30 ] || fail "took ${seconds}s"
  grep -q "train (rank 1 of 2): data error: .*$(basename "$victim")" bad.log ||
    { cat bad.log; fail "rank 1's message naming the image is missing"; }
  # (Open MPI's own "MPI_ABORT was invoked" banner is sometimes lost in its teardown.)
  echo "exit $code after ${seconds}s: $(grep 'data error' bad.log)"
  ;;
sweep_ranks)
  run sweep.log "$apps/sweep" --vary ranks=1,2 --limit 2048 --threads 1 --profile --quiet \
    --launcher "$mpirun -np {ranks}" --csv sweep.csv
  expect_ok sweep.log
  grep -Eq "^1 +cpu .* +100\.0%" sweep.log || { cat sweep.log; fail "no 1-rank row at 100%"; }
  grep -Eq "^2 +cpu .* [0-9.]+%" sweep.log || { cat sweep.log; fail "no 2-rank row with scaling"; }
  grep -q "all-reduce over MPI" sweep.log || { cat sweep.log; fail "no all-reduce profile"; }
  grep -q "while backward still ran" sweep.log || { cat sweep.log; fail "no overlap figure"; }
  grep -q "^ranks,backend,ranks" sweep.csv || fail "CSV header"
  [ "$(wc -l <sweep.csv)" = 3 ] || fail "CSV rows"
  ;;
compare_ranks)
  run compare.log "$apps/compare_devices" --backends cpu --ranks 1,2 --limit 1024 --epochs 1 \
    --threads 1 --quiet --launcher "$mpirun -np {ranks}"
  expect_ok compare.log
  grep -Eq "^cpu x1 .* 100\.0%" compare.log || { cat compare.log; fail "no cpu x1 row"; }
  grep -Eq "^cpu x2 .* [0-9.]+%" compare.log || { cat compare.log; fail "no cpu x2 row"; }
  ;;
usage)
  run zero.log "$apps/sweep" --vary ranks=0
  [ "$code" = 2 ] && grep -q "ranks: 0 is not >= 1" zero.log || { cat zero.log; fail "ranks=0"; }
  run nested.log $mpirun -np 2 "$apps/sweep" --vary ranks=1,2 --limit 256
  [ "$code" != 0 ] && grep -q "run this app without mpirun" nested.log ||
    { cat nested.log; fail "a ranks sweep under mpirun"; }
  run launcher.log "$apps/sweep" --vary ranks=1,2 --limit 256 --launcher "no-such-mpirun -np {ranks}"
  [ "$code" = 1 ] && grep -q "cannot start .no-such-mpirun" launcher.log ||
    { cat launcher.log; fail "a missing launcher"; }
  run bucket.log "$apps/train" --bucket-kib 0
  [ "$code" = 2 ] && grep -q -- "--bucket-kib must be" bucket.log || { cat bucket.log; fail "bucket"; }
  ;;
*)
  fail "unknown check"
  ;;
esac
echo "ok ($check)"
