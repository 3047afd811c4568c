// orderly: the gateway daemon and its tools. Subcommands are listed in usage() and README.md.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "orderly/gateway/commands.hpp"

namespace {

void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: orderly <command> [options]\n"
               "\n"
               "commands:\n"
               "  run --config FILE        run the gateway daemon\n"
               "  demo [options]           run on an embedded simulated community, web UI on\n"
               "                           http://127.0.0.1:8080 (see `orderly demo --help`)\n"
               "  check-config FILE        validate a configuration file and exit\n"
               "  plan SCENARIO.json       plan a scenario and print the plan as JSON\n"
               "       [--algorithm optimal|uncontrolled|edf|llf]\n"
               "  capacity [options]       estimate how many more 7 kW private piles the\n"
               "                           transformer can host (see `orderly capacity --help`)\n"
               "  user add|reset|list|remove  web accounts: the first admin, operators, platform\n"
               "                           tokens (see `orderly user` without arguments)\n"
               "  --version                print the version\n"
               "  help                     this text\n");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace orderly::gateway;
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const std::string cmd = argv[1];
  const Args args(argv + 2, argv + argc);
  try {
    if (cmd == "--version" || cmd == "version") {
      std::printf("orderly %s\n", ORDERLY_VERSION);
      return 0;
    }
    if (cmd == "help" || cmd == "--help" || cmd == "-h") {
      usage(stdout);
      return 0;
    }
    if (cmd == "run") return cmd_run(args);
    if (cmd == "demo") return cmd_demo(args);
    if (cmd == "check-config") return cmd_check_config(args);
    if (cmd == "plan") return cmd_plan(args);
    if (cmd == "capacity") return cmd_capacity(args);
    if (cmd == "user") return cmd_user(args);
    std::fprintf(stderr, "orderly: unknown command '%s'\n\n", cmd.c_str());
    usage(stderr);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "orderly %s: %s\n", cmd.c_str(), e.what());
    return 1;
  }
}
