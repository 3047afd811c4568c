#include "orderly/gateway/capacity.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <stdexcept>

#include "demo_community.hpp"
#include "orderly/scheduler/baselines.hpp"
#include "orderly/scheduler/kpi.hpp"
#include "orderly/scheduler/planner.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;

// splitmix64 (Steele, Lea, Flood 2014): well-mixed independent seeds from (seed, day, pile), so
// pile i's sessions on day d do not depend on how many piles are simulated. That makes the
// N + 1 pile scenario a superset of the N pile one, and pass/fail monotone in N.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
std::uint64_t mix(std::uint64_t a, std::uint64_t b) { return mix(a ^ mix(b)); }

// The simulated window: arrivals from local noon for 24 h, planned over 36 h so overnight stays
// finish inside it. Later departures are cut at the window's end.
constexpr hours kArrivalWindow{24};
constexpr hours kHorizon{36};
constexpr hours kStartLocalHour{12};

struct Session {
  int arrival_slot = 0;
  int departure_slot = 0;
  double energy_kwh = 0;
  double max_kw = 0;
};

class Day {
 public:
  Day(const CapacitySite& site, const CapacityOptions& options, int index)
      : site_(site), options_(options), index_(index) {
    const auto& h = site.base_load;
    std::mt19937_64 rng(mix(options.seed, 0xBA5Eull + static_cast<std::uint64_t>(index)));
    const std::size_t pick = std::uniform_int_distribution<std::size_t>(0, h.days_kw.size() - 1)(rng);
    const auto& profile = h.days_kw[pick];
    slot_ = minutes(h.slot_minutes);
    from_ = TimePoint(h.dates[pick]) + kStartLocalHour - site.utc_offset;
    slots_ = static_cast<int>(kHorizon / slot_);
    const int per_day = static_cast<int>(profile.size());
    const int first = static_cast<int>(kStartLocalHour / slot_);
    problem_.slots = slots_;
    problem_.slot_minutes = static_cast<double>(h.slot_minutes);
    scheduler::CapacityNode root;
    root.id = "transformer";
    root.limit_kw.assign(static_cast<std::size_t>(slots_), site.limit_kw - site.safety_margin_kw);
    // The sampled day's profile repeats past midnight: one day's shape stands for the night too.
    for (int t = 0; t < slots_; ++t) {
      root.base_load_kw.push_back(profile[static_cast<std::size_t>((first + t) % per_day)]);
    }
    problem_.nodes.push_back(std::move(root));
    for (const auto& p : tariff_series(site.tariff, from_, slot_, slots_, site.utc_offset)) {
      problem_.price_per_kwh.push_back(p.price_yuan_per_kwh);
      problem_.period.push_back(p.period);
    }
  }

  // Piles 0..existing-1 are the configured ones, the rest new ones of options.pile_kw.
  bool passes(int new_piles, bool orderly) {
    const int piles = static_cast<int>(site_.existing_pile_kw.size()) + new_piles;
    scheduler::Problem p = problem_;
    for (int i = 0; i < piles; ++i) {
      for (const auto& s : sessions_of(i)) {
        scheduler::EvRequest ev;
        ev.id = std::to_string(i);
        ev.arrival_slot = s.arrival_slot;
        ev.departure_slot = s.departure_slot;
        ev.energy_kwh = s.energy_kwh;
        ev.max_kw = s.max_kw;
        p.evs.push_back(std::move(ev));
      }
    }
    ++runs;
    if (!orderly) return scheduler::plan_uncontrolled(p).kpi.overload_slots == 0;
    // Feasibility is all that is asked: no valley filling, no rounding to whole amps (see
    // docs/capacity.md for why rounding is left out).
    scheduler::OptimalOptions o;
    o.valley_filling = false;
    o.round_setpoints = false;
    o.energy_unit_wh = 10;
    const auto plan = scheduler::plan_optimal(p, o);
    // The plan's own status allows 1 Wh short, but needs are floored to the 10 Wh unit; a
    // request counts as met within one unit. The overload check is recomputed, not trusted.
    const auto got_kwh = scheduler::delivered_kwh(p, plan);
    for (std::size_t e = 0; e < p.evs.size(); ++e) {
      if (got_kwh[e] < p.evs[e].energy_kwh - o.energy_unit_wh / 1000.0 - 1e-6) return false;
    }
    return scheduler::compute_kpi(p, plan).overload_slots == 0;
  }

  // Largest N in [0, max] that passes; -1 when even 0 fails. Exponential then binary search,
  // valid because passing is monotone in N (see mix()).
  // `known` is an N already known to pass (-1: none): the orderly search starts from the
  // uncontrolled answer, since a plan that charges as uncontrolled does is one orderly may pick.
  int max_passing(bool orderly, int known, bool& at_ceiling) {
    if (known < 0 && !passes(0, orderly)) return -1;
    int lo = std::max(known, 0);
    int hi = std::max(1, 2 * lo);
    while (true) {
      if (hi >= options_.max_new_piles) {
        if (passes(options_.max_new_piles, orderly)) {
          at_ceiling = true;
          return options_.max_new_piles;
        }
        hi = options_.max_new_piles;
        break;
      }
      if (!passes(hi, orderly)) break;
      lo = hi;
      hi *= 2;
    }
    while (hi - lo > 1) {
      const int mid = lo + (hi - lo) / 2;
      (passes(mid, orderly) ? lo : hi) = mid;
    }
    return lo;
  }

  long long runs = 0;

 private:
  const std::vector<Session>& sessions_of(int pile) {
    while (static_cast<int>(sessions_.size()) <= pile) {
      const int i = static_cast<int>(sessions_.size());
      const double kw = i < static_cast<int>(site_.existing_pile_kw.size())
                            ? site_.existing_pile_kw[static_cast<std::size_t>(i)]
                            : options_.pile_kw;
      const auto seed = mix(mix(options_.seed, static_cast<std::uint64_t>(index_)),
                            static_cast<std::uint64_t>(i));
      std::vector<Session> out;
      for (const auto& v : demo::generate_visits(1, kw * 1000.0, from_, from_ + kArrivalWindow,
                                                 site_.utc_offset, seed)) {
        Session s;
        s.arrival_slot = static_cast<int>((v.arrive - from_) / slot_);
        const auto depart = std::min(v.depart, from_ + kHorizon);
        s.departure_slot = std::min(slots_, static_cast<int>((depart - from_) / slot_));
        if (s.departure_slot <= s.arrival_slot) continue;  // under a slot: nothing to plan
        s.max_kw = kw;
        // A request is feasible on its own: what the pile can give in the slots it is present.
        const double hours_present =
            (s.departure_slot - s.arrival_slot) * problem_.slot_hours();
        s.energy_kwh = std::min(v.energy_wh / 1000.0, kw * hours_present);
        out.push_back(s);
      }
      sessions_.push_back(std::move(out));
    }
    return sessions_[static_cast<std::size_t>(pile)];
  }

  const CapacitySite& site_;
  const CapacityOptions& options_;
  int index_ = 0;
  minutes slot_{15};
  TimePoint from_{};
  int slots_ = 0;
  scheduler::Problem problem_;
  std::vector<std::vector<Session>> sessions_;
};

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

}  // namespace

BaseLoadHistory base_load_from_samples(const std::vector<MeterSample>& samples,
                                       minutes utc_offset, int slot_minutes) {
  require(slot_minutes > 0 && 1440 % slot_minutes == 0,
          "base load: slot_minutes " + std::to_string(slot_minutes) + " must divide a day");
  const int per_day = 1440 / slot_minutes;
  struct Acc {
    std::vector<double> sum_w;
    std::vector<int> count;
  };
  std::map<sys_days, Acc> by_day;
  for (const auto& s : samples) {
    if (!std::isfinite(s.power_w)) continue;
    const auto local = s.at + utc_offset;
    const auto day = floor<days>(local);
    const int slot = static_cast<int>(duration_cast<minutes>(local - day).count() / slot_minutes);
    auto& acc = by_day[day];
    if (acc.sum_w.empty()) {
      acc.sum_w.assign(static_cast<std::size_t>(per_day), 0.0);
      acc.count.assign(static_cast<std::size_t>(per_day), 0);
    }
    acc.sum_w[static_cast<std::size_t>(slot)] += s.power_w;
    acc.count[static_cast<std::size_t>(slot)] += 1;
  }
  BaseLoadHistory h;
  h.slot_minutes = slot_minutes;
  for (const auto& [day, acc] : by_day) {
    if (std::find(acc.count.begin(), acc.count.end(), 0) != acc.count.end()) continue;
    std::vector<double> kw(static_cast<std::size_t>(per_day));
    for (std::size_t i = 0; i < kw.size(); ++i) kw[i] = acc.sum_w[i] / acc.count[i] / 1000.0;
    h.days_kw.push_back(std::move(kw));
    h.dates.push_back(day);
  }
  return h;
}

BaseLoadHistory synthetic_base_load(double peak_kw, int days_count, minutes utc_offset,
                                    std::uint64_t seed, int slot_minutes) {
  require(slot_minutes > 0 && 1440 % slot_minutes == 0,
          "base load: slot_minutes " + std::to_string(slot_minutes) + " must divide a day");
  BaseLoadHistory h;
  h.slot_minutes = slot_minutes;
  h.synthetic = true;
  std::mt19937_64 rng(mix(seed, 0x5EEDull));
  std::uniform_real_distribution<double> factor(0.85, 1.05);
  const sys_days first = year{2025} / January / day{1};
  for (int d = 0; d < days_count; ++d) {
    const sys_days date = first + days(7 * d);
    const double f = factor(rng);
    std::vector<double> kw;
    for (int m = 0; m < 1440; m += slot_minutes) {
      const TimePoint mid = TimePoint(date) - utc_offset + minutes(m) + seconds(slot_minutes * 30);
      kw.push_back(f * demo::base_load_w(mid, utc_offset, peak_kw * 1000.0) / 1000.0);
    }
    h.days_kw.push_back(std::move(kw));
    h.dates.push_back(date);
  }
  return h;
}

int capacity_at_confidence(std::vector<int> max_by_day, double confidence) {
  require(!max_by_day.empty(), "capacity: no sampled days");
  require(confidence > 0 && confidence <= 1,
          "capacity: confidence must be in (0, 1], e.g. 0.95");
  std::sort(max_by_day.begin(), max_by_day.end(), std::greater<>());
  const double n = static_cast<double>(max_by_day.size());
  // The small tolerance keeps 0.95 x 20 = 19 from becoming 20 through binary rounding.
  auto k = static_cast<std::size_t>(std::ceil(confidence * n - 1e-9));
  k = std::clamp<std::size_t>(k, 1, max_by_day.size());
  return max_by_day[k - 1];
}

CapacityResult estimate_hosting_capacity(const CapacitySite& site, const CapacityOptions& options) {
  require(options.confidence > 0 && options.confidence <= 1,
          "capacity: confidence " + std::to_string(options.confidence) + " must be in (0, 1]");
  require(options.days >= 1, "capacity: days must be at least 1");
  require(options.pile_kw > 0, "capacity: pile_kw must be positive");
  require(options.max_new_piles >= 1, "capacity: max_new_piles must be at least 1");
  require(site.limit_kw > site.safety_margin_kw && site.safety_margin_kw >= 0,
          "capacity: transformer limit_kw must exceed the safety margin");
  require(!site.base_load.days_kw.empty() &&
              site.base_load.days_kw.size() == site.base_load.dates.size(),
          "capacity: the base load has no complete day");
  require(site.base_load.slot_minutes > 0 && 1440 % site.base_load.slot_minutes == 0 &&
              static_cast<int>(site.base_load.days_kw.front().size()) ==
                  1440 / site.base_load.slot_minutes,
          "capacity: base load days must have one value per slot of the day");
  CapacityResult r;
  for (int d = 0; d < options.days; ++d) {
    Day day(site, options, d);
    bool ceiling = false;
    const int uncontrolled = day.max_passing(false, -1, ceiling);
    ceiling = false;
    r.uncontrolled_by_day.push_back(uncontrolled);
    r.orderly_by_day.push_back(day.max_passing(true, uncontrolled, ceiling));
    r.orderly_at_ceiling = r.orderly_at_ceiling || ceiling;
    r.planner_runs += day.runs;
  }
  const int uncontrolled = capacity_at_confidence(r.uncontrolled_by_day, options.confidence);
  const int orderly = capacity_at_confidence(r.orderly_by_day, options.confidence);
  r.overloaded_without_new_piles = uncontrolled < 0;
  r.uncontrolled_new_piles = std::max(uncontrolled, 0);
  r.orderly_new_piles = std::max(orderly, 0);
  r.orderly_at_ceiling = r.orderly_at_ceiling && r.orderly_new_piles == options.max_new_piles;
  return r;
}

}  // namespace orderly::gateway
