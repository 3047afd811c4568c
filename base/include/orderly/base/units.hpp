#pragma once
// The electrical constants every part of Orderly converts with, defined once.
//
// Nominal voltage. GB/T 156-2017 (标准电压) sets 220/380 V as the nominal voltage of Chinese
// low-voltage three-phase four-wire supplies, and GB/T 12325-2008 lets a single-phase customer's
// supply voltage deviate from it by +7 % / -10 % (198 V to 235.4 V). Piles are commanded in
// amps (IEC 61851-1: the PWM duty cycle encodes a current), so every power limit is turned into
// amps at some voltage. Orderly converts at 230 V (the IEC 60038 nominal), near the top of the
// permitted band on purpose: a limit of P watts becomes P / 230 amps, which at the highest
// permitted voltage draws 235.4 / 230 = 1.023 P, inside the configured safety margin; converting
// at 220 V would draw up to 1.07 P. The same figure turns a pile's minimum current into its
// minimum power for the planner and its failsafe current into the load counted for it.
namespace orderly {

inline constexpr double kNominalPhaseVoltageV = 230.0;

// A three-phase supply: three phases, each at kNominalPhaseVoltageV to neutral.
inline constexpr int kPhaseCount = 3;

// Power drawn by `current_a` on each of `phases` phases at the nominal voltage.
constexpr double power_w_at_nominal(double current_a, int phases) {
  return current_a * kNominalPhaseVoltageV * phases;
}

// Current per phase that draws `power_w` over `phases` phases at the nominal voltage.
constexpr double current_a_at_nominal(double power_w, int phases) {
  return power_w / (kNominalPhaseVoltageV * phases);
}

}  // namespace orderly
