#include "orderly/scheduler/plan.hpp"

#include "orderly/scheduler/baselines.hpp"
#include "orderly/scheduler/kpi.hpp"
#include "orderly/scheduler/planner.hpp"

namespace orderly::scheduler {

Plan make_plan(const Problem& problem, Algorithm algorithm) {
  Plan plan;
  switch (algorithm) {
    case Algorithm::optimal:
      plan = plan_optimal(problem);
      break;
    case Algorithm::uncontrolled: plan = plan_uncontrolled(problem); break;
    case Algorithm::edf: plan = plan_edf(problem); break;
    case Algorithm::llf: plan = plan_llf(problem); break;
  }
  complete_plan(problem, plan);
  return plan;
}

std::optional<Algorithm> parse_algorithm(std::string_view name) {
  for (const auto a : {Algorithm::optimal, Algorithm::uncontrolled, Algorithm::edf, Algorithm::llf})
    if (name == to_string(a)) return a;
  return std::nullopt;
}

}  // namespace orderly::scheduler
