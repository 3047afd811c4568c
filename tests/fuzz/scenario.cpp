// Scenario files for `orderly plan` (docs/scenario-format.md): every problem must be a
// ScenarioError naming the field. A scenario that passes is planned when it is small, so what
// the parser lets through is also what the planner copes with.
#include <cstdint>
#include <string>

#include "orderly/gateway/scenario.hpp"
#include "orderly/scheduler/plan.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  orderly::scheduler::Problem problem;
  try {
    problem = orderly::gateway::parse_scenario(text, "fuzz.json");
  } catch (const orderly::gateway::ScenarioError&) {
    return 0;
  }
  // Planning time grows with EVs x slots x nodes; the fuzzer looks for wrong answers, not slow ones.
  if (problem.evs.size() * static_cast<std::size_t>(problem.slots) * problem.nodes.size() <= 512) {
    (void)orderly::gateway::plan_to_json(problem, orderly::scheduler::make_plan(problem, orderly::scheduler::Algorithm::optimal), 0);
  }
  return 0;
}
