#pragma once
// The `orderly` subcommands. Each takes the arguments after its name and returns the process
// exit code: 0 success, 1 failure at run time, 2 bad usage or invalid input (config, scenario).
#include <string>
#include <vector>

namespace orderly::gateway {

using Args = std::vector<std::string>;

int cmd_run(const Args& args);           // orderly run --config FILE      (the daemon)
int cmd_demo(const Args& args);          // orderly demo [--speed N] [--chargers N] [--port P]
int cmd_check_config(const Args& args);  // orderly check-config FILE
int cmd_plan(const Args& args);          // orderly plan SCENARIO.json [--algorithm ...]
int cmd_capacity(const Args& args);
int cmd_user(const Args& args);          // orderly user add|reset|list|remove ... --config FILE      // orderly capacity [--config FILE] [--confidence P] ...

}  // namespace orderly::gateway
