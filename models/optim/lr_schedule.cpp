// Learning-rate schedules (see lr_schedule.h for the formulas).
#include "models/optim/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "engine/error.h"
#include "models/optim/optimizer.h"

namespace kite::optim {
namespace {

void check_lr(const char* schedule, const char* name, double value) {
  KITE_CHECK(std::isfinite(value) && value >= 0.0,
             schedule << ": " << name << " must be finite and >= 0, got " << value);
}

void check_steps(const char* schedule, const char* name, int64_t value) {
  KITE_CHECK(value >= 1, schedule << ": " << name << " must be >= 1, got " << value);
}

void check_gamma(const char* schedule, double gamma) {
  KITE_CHECK(std::isfinite(gamma) && gamma > 0.0 && gamma <= 1.0,
             schedule << ": gamma must be in (0, 1], got " << gamma);
}

void check_step(const char* schedule, int64_t step) {
  KITE_CHECK(step >= 0, schedule << ": step must be >= 0, got " << step);
}

}  // namespace

ConstantLr::ConstantLr(double lr) : lr_(lr) { check_lr("ConstantLr", "lr", lr); }

double ConstantLr::lr(int64_t step) const {
  check_step("ConstantLr", step);
  return lr_;
}

StepDecayLr::StepDecayLr(double base_lr, double gamma, int64_t every_steps)
    : base_lr_(base_lr), gamma_(gamma), every_steps_(every_steps) {
  check_lr("StepDecayLr", "base_lr", base_lr);
  check_gamma("StepDecayLr", gamma);
  check_steps("StepDecayLr", "every_steps", every_steps);
}

double StepDecayLr::lr(int64_t step) const {
  check_step("StepDecayLr", step);
  return base_lr_ * std::pow(gamma_, static_cast<double>(step / every_steps_));
}

ExponentialLr::ExponentialLr(double base_lr, double gamma_per_epoch, int64_t steps_per_epoch)
    : base_lr_(base_lr), gamma_(gamma_per_epoch), steps_per_epoch_(steps_per_epoch) {
  check_lr("ExponentialLr", "base_lr", base_lr);
  check_gamma("ExponentialLr", gamma_per_epoch);
  check_steps("ExponentialLr", "steps_per_epoch", steps_per_epoch);
}

double ExponentialLr::lr(int64_t step) const {
  check_step("ExponentialLr", step);
  return base_lr_ * std::pow(gamma_, static_cast<double>(epoch(step)));
}

CosineLr::CosineLr(double base_lr, double min_lr, int64_t total_steps)
    : base_lr_(base_lr), min_lr_(min_lr), total_steps_(total_steps) {
  check_lr("CosineLr", "base_lr", base_lr);
  check_lr("CosineLr", "min_lr", min_lr);
  KITE_CHECK(min_lr <= base_lr,
             "CosineLr: min_lr " << min_lr << " is larger than base_lr " << base_lr);
  check_steps("CosineLr", "total_steps", total_steps);
}

double CosineLr::lr(int64_t step) const {
  check_step("CosineLr", step);
  if (step >= total_steps_) return min_lr_;
  const double progress = static_cast<double>(step) / static_cast<double>(total_steps_);
  return min_lr_ + (base_lr_ - min_lr_) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

WarmupLr::WarmupLr(std::shared_ptr<const LrSchedule> schedule, int64_t warmup_steps)
    : schedule_(std::move(schedule)), warmup_steps_(warmup_steps) {
  KITE_CHECK(schedule_ != nullptr, "WarmupLr: no schedule to warm up");
  check_steps("WarmupLr", "warmup_steps", warmup_steps);
}

double WarmupLr::lr(int64_t step) const {
  check_step("WarmupLr", step);
  const double fraction =
      std::min(1.0, static_cast<double>(step + 1) / static_cast<double>(warmup_steps_));
  return schedule_->lr(step) * fraction;
}

void apply_schedule(Optimizer& optimizer, const LrSchedule& schedule) {
  optimizer.set_learning_rate(schedule.lr(optimizer.step_count()));
}

}  // namespace kite::optim
