// Learning-rate schedules: the learning rate as a pure function of the optimizer step.
//
// `step` is the number of updates already taken, i.e. optimizer.step_count() just before
// optimizer.step(), so the first update uses lr(0). Because a schedule holds no state of its
// own, a run resumed from a checkpoint (which restores the step count) continues on exactly
// the same curve.
//
//   ConstantLr(lr)                          lr
//   StepDecayLr(base, gamma, every)         base * gamma^floor(step / every)
//   ExponentialLr(base, gamma, per_epoch)   base * gamma^epoch, epoch = floor(step / per_epoch)
//                                           (the decoupled-VAE flow: x0.8 per epoch)
//   CosineLr(base, min, total)              min + (base - min) (1 + cos(pi step / total)) / 2,
//                                           then min after `total` steps
//   WarmupLr(schedule, warmup)              schedule(step) * min(1, (step + 1) / warmup)
//                                           (linear warm-up, as in Residual Flows)
#pragma once

#include <cstdint>
#include <memory>

namespace kite::optim {

class Optimizer;

class LrSchedule {
 public:
  virtual ~LrSchedule() = default;
  virtual double lr(int64_t step) const = 0;
};

class ConstantLr final : public LrSchedule {
 public:
  explicit ConstantLr(double lr);
  double lr(int64_t step) const override;

 private:
  double lr_;
};

class StepDecayLr final : public LrSchedule {
 public:
  StepDecayLr(double base_lr, double gamma, int64_t every_steps);
  double lr(int64_t step) const override;

 private:
  double base_lr_, gamma_;
  int64_t every_steps_;
};

class ExponentialLr final : public LrSchedule {
 public:
  ExponentialLr(double base_lr, double gamma_per_epoch, int64_t steps_per_epoch);
  double lr(int64_t step) const override;
  int64_t epoch(int64_t step) const { return step / steps_per_epoch_; }

 private:
  double base_lr_, gamma_;
  int64_t steps_per_epoch_;
};

class CosineLr final : public LrSchedule {
 public:
  CosineLr(double base_lr, double min_lr, int64_t total_steps);
  double lr(int64_t step) const override;

 private:
  double base_lr_, min_lr_;
  int64_t total_steps_;
};

class WarmupLr final : public LrSchedule {
 public:
  WarmupLr(std::shared_ptr<const LrSchedule> schedule, int64_t warmup_steps);
  double lr(int64_t step) const override;

 private:
  std::shared_ptr<const LrSchedule> schedule_;
  int64_t warmup_steps_;
};

// Sets the optimizer's learning rate for its next update: schedule.lr(step_count()).
void apply_schedule(Optimizer& optimizer, const LrSchedule& schedule);

}  // namespace kite::optim
