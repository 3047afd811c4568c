// orderly plan SCENARIO.json [--algorithm optimal|uncontrolled|edf|llf] [--pretty]
// Plans one scenario file (docs/scenario-format.md) and prints the plan as JSON on stdout.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "orderly/gateway/commands.hpp"
#include "orderly/gateway/scenario.hpp"
#include "orderly/scheduler/plan.hpp"

namespace orderly::gateway {
namespace {

constexpr const char* kUsage =
    "usage: orderly plan SCENARIO.json [--algorithm optimal|uncontrolled|edf|llf] [--pretty]\n"
    "  Plans the scenario (format: docs/scenario-format.md) and prints the plan as JSON,\n"
    "  on one line, or indented with --pretty.\n"
    "  Exit codes: 0 planned (also when capacity is short: see \"status\"), 2 bad usage or scenario.\n";

}  // namespace

int cmd_plan(const Args& args) {
  std::string path;
  std::string algorithm_name = "optimal";
  bool pretty = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--pretty") {
      pretty = true;
      continue;
    }
    if (a == "--algorithm" || a.rfind("--algorithm=", 0) == 0) {
      if (a == "--algorithm") {
        if (i + 1 >= args.size()) {
          std::fprintf(stderr, "orderly plan: --algorithm needs a value: optimal, uncontrolled, edf or llf\n");
          return 2;
        }
        algorithm_name = args[++i];
      } else {
        algorithm_name = a.substr(std::string("--algorithm=").size());
      }
      continue;
    }
    if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "orderly plan: unknown option '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
    if (!path.empty()) {
      std::fprintf(stderr, "orderly plan: one scenario file only, got '%s' and '%s'\n", path.c_str(), a.c_str());
      return 2;
    }
    path = a;
  }
  if (path.empty()) {
    std::fprintf(stderr, "orderly plan: no scenario file given\n%s", kUsage);
    return 2;
  }
  const auto algorithm = scheduler::parse_algorithm(algorithm_name);
  if (!algorithm) {
    std::fprintf(stderr, "orderly plan: unknown algorithm '%s': use optimal, uncontrolled, edf or llf\n",
                 algorithm_name.c_str());
    return 2;
  }

  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "orderly plan: cannot read scenario file '%s': check the path and permissions\n", path.c_str());
    return 2;
  }
  std::ostringstream text;
  text << in.rdbuf();

  scheduler::Problem problem;
  try {
    problem = parse_scenario(text.str(), path);
  } catch (const ScenarioError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }

  // The scheduler has no clock of its own; the CLI measures the planner call alone.
  const auto started = std::chrono::steady_clock::now();
  const auto plan = scheduler::make_plan(problem, *algorithm);
  const auto solve_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();

  auto out = plan_to_json(problem, plan, solve_ms);
  out["algorithm"] = scheduler::to_string(*algorithm);
  std::cout << (pretty ? out.dump(2) : out.dump()) << '\n';
  return 0;
}

}  // namespace orderly::gateway
