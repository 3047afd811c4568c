// `orderly capacity`: the hosting-capacity estimate (docs/capacity.md) for the site in a config
// file, from the transformer meter's history in the store when there is enough of it.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <system_error>

#include "orderly/gateway/capacity.hpp"
#include "orderly/gateway/commands.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/planning.hpp"
#include "orderly/gateway/store.hpp"
#include "cli_args.hpp"

namespace orderly::gateway {
namespace {

constexpr const char* kUsage =
    "usage: orderly capacity [--config FILE] [--confidence P] [--days N] [--seed S]\n"
    "                        [--pile-kw KW] [--max-piles N] [--json]\n"
    "Estimates how many more private piles of KW (default 7) the transformer can host with\n"
    "orderly charging and without it, passing on at least P (default 0.95) of N (default 50)\n"
    "sampled days. Base load: the transformer meter's history in the config's store (at least\n"
    "7 complete days) less what the configured piles drew, else a synthetic residential\n"
    "profile. Cars: the store's closed private-pile sessions (at least 30), else statistics\n"
    "fitted to a residential dataset. Method: docs/capacity.md.\n"
    "  --config FILE    default /etc/orderly/orderly.toml\n"
    "  --seed S         default 1; the same seed and inputs give the same answer\n"
    "  --max-piles N    search ceiling per day, default 2000\n"
    "  --json           machine-readable output on stdout\n";

constexpr int kMinHistoryDays = 7;

int usage_error(const std::string& message) {
  std::fprintf(stderr, "orderly capacity: %s\n%s", message.c_str(), kUsage);
  return 2;
}

struct BaseLoadChoice {
  BaseLoadHistory history;
  std::string source;             // "store" or "synthetic"
  std::string warning;            // empty when the store's history is used
  PileLoadSubtraction subtracted; // what the configured piles drew, taken off (store only)
};

std::vector<std::string> charger_ids(const Config& config) {
  std::vector<std::string> ids;
  for (const auto& c : config.chargers) ids.push_back(c.id);
  return ids;
}

void add(PileLoadSubtraction& total, const PileLoadSubtraction& day) {
  total.energy_kwh += day.energy_kwh;
  total.pile_slots += day.pile_slots;
  total.pile_slots_without_data += day.pile_slots_without_data;
  total.slots_clamped += day.slots_clamped;
}

// One local day per query, newest first, so a long history of fine samples is never in memory at
// once. Stops after kMaxGapDays empty days in a row (older history is gone or never existed).
// Each complete day has the configured piles' sampled charging taken off: the meter measured it,
// and the estimate simulates those piles again.
BaseLoadHistory read_history(const Store& store, const std::string& meter_id, const Config& config,
                             PileLoadSubtraction& subtracted) {
  using namespace std::chrono;
  constexpr int kMaxGapDays = 14;
  const auto utc_offset = config.site.utc_offset;
  const auto piles = charger_ids(config);
  BaseLoadHistory all;
  std::optional<TimePoint> newest;
  for (const auto& s : store.latest_meter_samples()) {
    if (s.meter_id == meter_id) newest = s.at;
  }
  if (!newest) return all;
  const TimePoint end = TimePoint(floor<days>(*newest + utc_offset) + days(1)) - utc_offset;
  int gap = 0;
  for (int k = 0; k < config.store.aggregate_retention_days && gap < kMaxGapDays; ++k) {
    const TimePoint from = end - days(k + 1);
    const TimePoint to = end - days(k);
    const auto samples = store.meter_samples(meter_id, from, to);
    gap = samples.empty() ? gap + 1 : 0;
    auto day = base_load_from_samples(samples, utc_offset, all.slot_minutes);
    if (day.days_kw.empty()) continue;
    std::vector<ChargerSample> charging;
    for (const auto& id : piles) {
      auto got = store.charger_samples(id, from, to);
      charging.insert(charging.end(), got.begin(), got.end());
    }
    add(subtracted, subtract_pile_load(day, charging, piles, utc_offset));
    for (std::size_t i = 0; i < day.days_kw.size(); ++i) {
      all.days_kw.push_back(std::move(day.days_kw[i]));
      all.dates.push_back(day.dates[i]);
    }
  }
  std::reverse(all.days_kw.begin(), all.days_kw.end());
  std::reverse(all.dates.begin(), all.dates.end());
  return all;
}

// A year of sessions covers every season; older ones describe cars and habits since changed.
constexpr std::chrono::days kSessionHistory{365};

// The closed sessions of the year up to the newest sample in the store (no clock: the estimate
// depends on the store's content only).
SessionStatistics read_sessions(const Store& store, const Config& config) {
  std::optional<TimePoint> newest;
  for (const auto& s : store.latest_meter_samples()) newest = std::max(newest.value_or(s.at), s.at);
  for (const auto& s : store.latest_charger_samples()) {
    newest = std::max(newest.value_or(s.at), s.at);
  }
  const TimePoint since = newest ? *newest - kSessionHistory : TimePoint{};
  return session_statistics(store.closed_sessions(since), config.site.utc_offset);
}

SessionStatistics choose_sessions(const Config& config, const Store* store) {
  if (store != nullptr) return read_sessions(*store, config);
  SessionStatistics st;
  st.warning = "the store " + config.store.path.string() +
               " does not exist yet; drawing cars from statistics FITTED to a Norwegian "
               "residential dataset.";
  return st;
}

BaseLoadChoice choose_base_load(const Config& config, const Store* store,
                                const CapacityOptions& options) {
  BaseLoadChoice c;
  const MeterConfig* meter = nullptr;
  for (const auto& m : config.meters) {
    if (m.role == MeterRole::transformer) {
      meter = &m;
      break;
    }
  }
  std::string why;
  if (meter == nullptr) {
    why = "the config has no meter with role = \"transformer\"";
  } else if (store == nullptr) {
    why = "the store " + config.store.path.string() + " does not exist yet";
  } else {
    c.history = read_history(*store, meter->id, config, c.subtracted);
    const int days = static_cast<int>(c.history.days_kw.size());
    if (days >= kMinHistoryDays) {
      c.source = "store";
      return c;
    }
    why = "the store holds " + std::to_string(days) + " complete day(s) of meter '" + meter->id +
          "' (" + std::to_string(kMinHistoryDays) + " needed)";
  }
  // Peak at 60% of the limit: a transformer sized with the usual margin for residential load.
  c.history = synthetic_base_load(0.6 * config.site.transformer.limit_kw, 52,
                                  config.site.utc_offset, options.seed);
  c.source = "synthetic";
  c.warning = why + "; using a SYNTHETIC base load peaking at 60% of the transformer limit. "
              "Treat the result as indicative only; rerun after a week of metering.";
  return c;
}

}  // namespace

int cmd_capacity(const Args& args) {
  std::filesystem::path config_path = "/etc/orderly/orderly.toml";
  CapacityOptions options;
  bool json_output = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--json") {
      json_output = true;
      continue;
    }
    const bool takes_value = a == "--config" || a == "--confidence" || a == "--days" ||
                             a == "--seed" || a == "--pile-kw" || a == "--max-piles";
    if (!takes_value) {
      return usage_error((a.rfind("--", 0) == 0 ? "unknown option '" : "unknown argument '") + a +
                         "'");
    }
    if (i + 1 >= args.size()) return usage_error(a + " needs a value");
    const std::string& v = args[++i];
    if (a == "--config") {
      config_path = v;
    } else if (a == "--confidence") {
      const auto p = parse_number<double>(v);
      if (!p || !(*p > 0 && *p <= 1)) {
        return usage_error("--confidence '" + v + "' must be a number in (0, 1], e.g. 0.95");
      }
      options.confidence = *p;
    } else if (a == "--days") {
      const auto n = parse_number<int>(v);
      if (!n || *n < 1 || *n > 10000) return usage_error("--days '" + v + "' must be 1-10000");
      options.days = *n;
    } else if (a == "--seed") {
      const auto s = parse_number<std::uint64_t>(v);
      if (!s) return usage_error("--seed '" + v + "' must be a non-negative integer");
      options.seed = *s;
    } else if (a == "--pile-kw") {
      const auto kw = parse_number<double>(v);
      if (!kw || !(*kw > 0 && *kw <= 350)) {
        return usage_error("--pile-kw '" + v + "' must be a power in kW, above 0 and at most 350");
      }
      options.pile_kw = *kw;
    } else if (a == "--max-piles") {
      const auto n = parse_number<int>(v);
      if (!n || *n < 1 || *n > 100000) return usage_error("--max-piles '" + v + "' must be 1-100000");
      options.max_new_piles = *n;
    }
  }

  Config config;
  try {
    config = load_config(config_path);
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "orderly capacity: invalid configuration:\n%s\n", e.what());
    return 2;
  }

  CapacitySite site;
  site.limit_kw = config.site.transformer.limit_kw;
  site.safety_margin_kw = config.control.safety_margin_kw;
  site.utc_offset = config.site.utc_offset;
  site.tariff = config.tariff;
  site.phase_limit_kw = config.site.transformer.phase_limit_kw;
  site.base_load_phase_split = config.site.transformer.base_load_phase_split;
  for (const auto& c : config.chargers) {
    site.existing_pile_kw.push_back(c.max_power_kw);
    // A study, not a safety bound: a three-phase pile is taken to charge a three-phase car.
    site.existing_pile_phases.push_back(c.phase == Phase::ABC ? scheduler::PhaseSet::abc
                                                              : counted_phases(c.phase, std::nullopt));
  }

  BaseLoadChoice base;
  SessionStatistics sessions;
  try {
    // Never created here: a read-only estimate must not leave an empty store behind.
    std::optional<Store> store;
    if (std::filesystem::exists(config.store.path)) store.emplace(config.store.path);
    const Store* stored = store ? &*store : nullptr;
    base = choose_base_load(config, stored, options);
    sessions = choose_sessions(config, stored);
  } catch (const StoreError& e) {
    std::fprintf(stderr, "orderly capacity: %s\n", e.what());
    return 1;
  }
  site.base_load = base.history;
  if (!base.warning.empty()) std::fprintf(stderr, "orderly capacity: warning: %s\n", base.warning.c_str());
  site.stored_sessions = sessions.sessions;
  site.sessions_by_day_type = sessions.by_day_type;
  const std::string sessions_source = sessions.sessions.empty() ? "fitted" : "store";
  if (!sessions.warning.empty()) {
    std::fprintf(stderr, "orderly capacity: warning: %s\n", sessions.warning.c_str());
  }

  CapacityResult r;
  const auto started = std::chrono::steady_clock::now();
  try {
    r = estimate_hosting_capacity(site, options);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "orderly capacity: %s\n", e.what());
    return 2;
  }
  const double elapsed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  const int percent = static_cast<int>(options.confidence * 100.0 + 0.5);
  if (json_output) {
    nlohmann::json j;
    j["orderly_new_piles"] = r.orderly_new_piles;
    j["uncontrolled_new_piles"] = r.uncontrolled_new_piles;
    j["confidence"] = options.confidence;
    j["days"] = options.days;
    j["seed"] = options.seed;
    j["pile_kw"] = options.pile_kw;
    j["existing_piles"] = site.existing_pile_kw.size();
    j["transformer_limit_kw"] = site.limit_kw;
    j["safety_margin_kw"] = site.safety_margin_kw;
    j["base_load"] = {{"source", base.source},
                      {"history_days", base.history.days_kw.size()},
                      {"warning", base.warning}};
    if (base.source == "store") {
      j["base_load"]["existing_piles_subtracted"] = {
          {"energy_kwh", base.subtracted.energy_kwh},
          {"pile_slots", base.subtracted.pile_slots},
          {"pile_slots_without_data", base.subtracted.pile_slots_without_data},
          {"slots_clamped", base.subtracted.slots_clamped}};
    }
    j["sessions"] = {{"source", sessions_source},
                     {"count", sessions.sessions.size()},
                     {"closed_private", sessions.closed_private},
                     {"by_day_type", sessions.by_day_type},
                     {"warning", sessions.warning}};
    j["orderly_at_ceiling"] = r.orderly_at_ceiling;
    j["overloaded_without_new_piles"] = r.overloaded_without_new_piles;
    j["orderly_by_day"] = r.orderly_by_day;
    j["uncontrolled_by_day"] = r.uncontrolled_by_day;
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("orderly: +%d%s piles, uncontrolled: +%d piles of %g kW at %d%% confidence over %d "
              "sampled days\n",
              r.orderly_new_piles, r.orderly_at_ceiling ? " (or more: search ceiling)" : "",
              r.uncontrolled_new_piles, options.pile_kw, percent, options.days);
  std::printf("site %s: transformer limit %g kW - %g kW margin, %zu existing piles, base load "
              "from %s (%zu days); %lld plans in %.1f s\n",
              config.site.name.c_str(), site.limit_kw, site.safety_margin_kw,
              site.existing_pile_kw.size(), base.source.c_str(), base.history.days_kw.size(),
              r.planner_runs, elapsed_s);
  if (sessions.sessions.empty()) {
    std::printf("sessions from fitted statistics");
  } else {
    std::printf("sessions from store (%zu sessions%s)", sessions.sessions.size(),
                sessions.by_day_type ? ", weekdays and weekends apart" : "");
  }
  if (base.source == "store") {
    std::printf("; existing piles' metered charging taken off the base load: %.1f kWh (%zu of %zu "
                "pile-slots without charger data, nothing taken off there)",
                base.subtracted.energy_kwh, base.subtracted.pile_slots_without_data,
                base.subtracted.pile_slots);
  }
  std::printf("\n");
  if (r.overloaded_without_new_piles) {
    std::printf("warning: without control the transformer is already over its limit on more than "
                "%d%% of the sampled days with the existing piles alone\n",
                100 - percent);
  }
  return 0;
}

}  // namespace orderly::gateway
