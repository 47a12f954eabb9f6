#include "apps/common/result_json.h"

#include <stdexcept>

namespace nnlab::apps {
namespace {
Op op_named(const std::string& name) {
  static const std::map<std::string, Op> by_name = {
#define NNLAB_OP(Name, stem, params) {op_name(Op::Name), Op::Name},
#include "nnlab/core/ops.def"
  };
  auto it = by_name.find(name);
  if (it == by_name.end()) throw std::runtime_error("run result: unknown op '" + name + "'");
  return it->second;
}

nlohmann::json profile_json(const RunProfile& p) {
  nlohmann::json ops = nlohmann::json::object();
  for (const auto& [op, t] : p.ops) ops[op_name(op)] = {{"calls", t.calls}, {"seconds", t.seconds}};
  // --metrics: cuda-sim's counters by op name (labels such as "(outside ops)" included), for
  // readers of --json; a run's result read back (run_from_json) does not need them, as
  // --metrics runs in one process (validate()).
  nlohmann::json counters = nlohmann::json::object();
  for (const auto& [label, c] : p.counters) counters[label] = to_json(c);
  const auto& a = p.allreduce;
  return {{"steps", p.steps},
          {"data_wait_s", p.data_wait},
          {"upload_s", p.upload},
          {"forward_s", p.forward},
          {"backward_s", p.backward},
          {"allreduce_wait_s", p.allreduce_wait},
          {"optimizer_s", p.optimizer},
          {"ops", ops},
          {"counters", counters},
          {"allreduce",
           {{"steps", a.steps},
            {"buckets", a.buckets},
            {"bytes", a.bytes},
            {"in_flight_s", a.in_flight_seconds},
            {"during_backward_s", a.during_backward_seconds},
            {"finish_s", a.finish_seconds},
            {"buckets_started_in_backward", a.buckets_started_in_backward},
            {"buckets_done_in_backward", a.buckets_done_in_backward}}}};
}
}  // namespace

nlohmann::json run_json(const RunResult& r, bool with_profile) {
  nlohmann::json run = {{"backend", r.backend},
                        {"device", r.device},
                        {"precision", r.precision},
                        {"threads", r.threads},
                        {"ranks", r.ranks},
                        {"transport", r.transport},
                        {"parameters", r.parameters},
                        {"total_train_seconds", r.total_train_seconds()},
                        {"epochs", nlohmann::json::array()}};
  for (const auto& e : r.epochs)
    run["epochs"].push_back({{"epoch", e.epoch},
                             {"train_loss", e.train_loss},
                             {"test_accuracy", e.test_accuracy},
                             {"train_seconds", e.train_seconds},
                             {"images_per_second", e.images_per_second},
                             {"peak_bytes", e.peak_bytes},
                             {"loss_scale", e.loss_scale},
                             {"skipped_steps", e.skipped_steps},
                             {"one_thread_steps", e.one_thread_steps}});
  if (with_profile) run["profile"] = profile_json(r.profile);
  return run;
}

RunResult run_from_json(const nlohmann::json& j) {
  try {
    RunResult r;
    j.at("backend").get_to(r.backend);
    j.at("device").get_to(r.device);
    j.at("precision").get_to(r.precision);
    j.at("threads").get_to(r.threads);
    j.at("ranks").get_to(r.ranks);
    j.at("transport").get_to(r.transport);
    j.at("parameters").get_to(r.parameters);
    for (const auto& e : j.at("epochs")) {
      EpochStats s;
      e.at("epoch").get_to(s.epoch);
      e.at("train_loss").get_to(s.train_loss);
      e.at("test_accuracy").get_to(s.test_accuracy);
      e.at("train_seconds").get_to(s.train_seconds);
      e.at("images_per_second").get_to(s.images_per_second);
      e.at("peak_bytes").get_to(s.peak_bytes);
      e.at("loss_scale").get_to(s.loss_scale);
      e.at("skipped_steps").get_to(s.skipped_steps);
      if (e.contains("one_thread_steps")) e.at("one_thread_steps").get_to(s.one_thread_steps);  // since 2026-11
      r.epochs.push_back(s);
    }
    if (j.contains("profile")) {
      const auto& p = j.at("profile");
      RunProfile& q = r.profile;
      p.at("steps").get_to(q.steps);
      p.at("data_wait_s").get_to(q.data_wait);
      p.at("upload_s").get_to(q.upload);
      p.at("forward_s").get_to(q.forward);
      p.at("backward_s").get_to(q.backward);
      p.at("allreduce_wait_s").get_to(q.allreduce_wait);
      p.at("optimizer_s").get_to(q.optimizer);
      for (const auto& [name, t] : p.at("ops").items())
        q.ops[op_named(name)] = {t.at("calls").get<int64_t>(), t.at("seconds").get<double>()};
      const auto& a = p.at("allreduce");
      auto& s = q.allreduce;
      a.at("steps").get_to(s.steps);
      a.at("buckets").get_to(s.buckets);
      a.at("bytes").get_to(s.bytes);
      a.at("in_flight_s").get_to(s.in_flight_seconds);
      a.at("during_backward_s").get_to(s.during_backward_seconds);
      a.at("finish_s").get_to(s.finish_seconds);
      a.at("buckets_started_in_backward").get_to(s.buckets_started_in_backward);
      a.at("buckets_done_in_backward").get_to(s.buckets_done_in_backward);
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("run result: ") + e.what());
  }
}

}  // namespace nnlab::apps
