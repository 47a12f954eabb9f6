#include "apps/common/plot.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace nnlab::apps {

std::string gnuplot_string(const std::string& label) {
  std::string out = "\"";
  for (char ch : label) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "\"";
}

namespace {
std::string shell_quoted(const std::string& word) {
  std::string out = "'";
  for (char ch : word) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}
}  // namespace

bool render_png(const std::string& png_path, const std::vector<PlotTable>& tables,
                const std::string& commands, const std::string& title) {
  std::filesystem::path png(png_path), script = png;
  script.replace_extension(".gp");
  {
    std::ofstream out(script);
    out << "# " << title << "\n# made by nnlab; render with: gnuplot " << script.string() << "\n";
    for (const auto& t : tables) {
      out << t.name << " << EOD\n";
      for (size_t i = 0; i < t.columns.size(); ++i) out << (i ? " " : "") << gnuplot_string(t.columns[i]);
      out << "\n";
      for (const auto& row : t.rows) {
        for (size_t i = 0; i < row.size(); ++i) out << (i ? " " : "") << row[i];
        out << "\n";
      }
      out << "EOD\n";
    }
    out << "set terminal pngcairo size 1200,800 noenhanced font \",11\"\n";
    out << "set output " << gnuplot_string(png.string()) << "\n";
    out << commands;
    if (!out) throw std::runtime_error("cannot write " + script.string());
  }
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    std::fprintf(stderr,
                 "plot: gnuplot is not installed, so %s was not made; the script is at %s: "
                 "apt-get install gnuplot-nox, then run: gnuplot %s\n",
                 png.c_str(), script.c_str(), script.c_str());
    return false;
  }
  std::string command = "gnuplot " + shell_quoted(script.string()) + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string messages;
  char buffer[512];
  while (pipe && std::fgets(buffer, sizeof buffer, pipe)) messages += buffer;
  int status = pipe ? pclose(pipe) : -1;
  if (status != 0) {
    std::fprintf(stderr, "plot: gnuplot failed on %s:\n%s", script.c_str(), messages.c_str());
    return false;
  }
  return true;
}

}  // namespace nnlab::apps
