// Checks shared by the end-to-end tests of resumable training binaries (train_vae,
// train_two_stage): read a run's per-step log, and compare a stopped-and-resumed run with an
// uninterrupted one bit for bit.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace kite::test_support {

// A learnt-gamma VAE small enough for a test to train in a second: train_vae on 256
// synthetic 28x28 shapes (64 test images), widths 8,16, latent 4, batch 32 (8 batches per
// epoch), lr 2e-3, seed 5, a log record per step, for `steps` steps into `out`.
std::vector<std::string> tiny_vae_args(const std::filesystem::path& out, int steps);

// The `fields` of every record of DIR/log.jsonl, one row per record, checking (as a test
// failure) that the records are steps 1, 2, ..., n.
std::vector<std::vector<double>> logged_steps(const std::filesystem::path& dir,
                                              const std::vector<std::string>& fields);

// The step stored in DIR/last.safetensors.
int64_t checkpoint_step(const std::filesystem::path& dir);

// Both checkpoints hold the same tensor names, each equal bit for bit; `must_hold` names the
// tensors whose presence shows that the state worth checking was saved at all.
void expect_identical_checkpoints(const std::filesystem::path& a, const std::filesystem::path& b,
                                  const std::vector<std::string>& must_hold);

// A resumed run in `dir` logged the same `fields` at every step as the uninterrupted run in
// `straight`, and ended with the same last.safetensors.
void expect_same_run(const std::filesystem::path& dir, const std::filesystem::path& straight,
                     const std::vector<std::string>& fields,
                     const std::vector<std::string>& must_hold);

}  // namespace kite::test_support
