// PNG charts through gnuplot. Each chart is written as a self-contained gnuplot script (the
// data inline) next to the PNG, so a user can restyle and re-render it; when gnuplot is
// missing the script is still written and the app says how to get the picture.
#pragma once
#include <string>
#include <vector>

namespace nnlab::apps {

// A table for a chart: named columns, rows of numbers or labels (labels are quoted).
struct PlotTable {
  std::string name;  // the gnuplot datablock, e.g. "$runs"
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
};

// Writes PNG_PATH with ".png" replaced by ".gp" (the tables, then `commands`) and runs
// gnuplot on it to make PNG_PATH. Returns whether the PNG was made; otherwise says why on
// stderr. Throws std::runtime_error when the script cannot be written.
bool render_png(const std::string& png_path, const std::vector<PlotTable>& tables,
                const std::string& commands, const std::string& title);

std::string gnuplot_string(const std::string& label);  // a gnuplot string literal

}  // namespace nnlab::apps
