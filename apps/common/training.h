// Shared infrastructure of the training binaries (train_ae, train_flow, ...):
//
//   - common flags: --device cpu|cuda[:i], --seed, --out DIR, --threads;
//   - dataset flags (--dataset fashion-mnist|mnist|cifar10|folder|shapes, --data DIR, subsets)
//     and loading the train/test ImageSets they name;
//   - a Ctrl-C flag: SIGINT/SIGTERM set it, the training loop polls it, saves a checkpoint and
//     exits cleanly (a second Ctrl-C ends the process at once);
//   - training checkpoints: model state dict + optimizer state + metadata (step, epoch,
//     position in the epoch, generator states, configuration JSON) in one safetensors file,
//     written atomically; a keeper for "last" and "best";
//   - small helpers: the peak resident memory, reading JSONL logs.
//
// A checkpoint's layout (tensor names and metadata keys):
//   model.<dotted name>           the model's parameters and buffers (Module::state_dict)
//   optim.<...>                   the optimizer (Optimizer::state_tensors("optim."))
//   extra.<name>                  anything else the binary stores (e.g. standardisation stats)
//   metadata: format = "kite-training-checkpoint", kind (e.g. "autoencoder"), step, epoch,
//             batch_in_epoch, generator.<name> = GeneratorState::to_string(), config = JSON,
//             plus free-form keys of the binary (e.g. best_metric).
#pragma once

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/image_set.h"
#include "engine/checkpoint.h"
#include "engine/device.h"
#include "engine/error.h"
#include "engine/generator.h"
#include "models/nn/module.h"
#include "models/optim/lr_schedule.h"
#include "models/optim/optimizer.h"

namespace kite::apps {

// ---------------------------------------------------------------------------------------------
// Common flags

struct CommonFlags {
  std::string device = "cpu";
  uint64_t seed = 0;
  std::string out;
  int threads = 0;  // 0: OpenMP's default
};

// Adds --device (see add_device_flag), --seed, --out (default `default_out`) and --threads. A
// malformed --device is a flag error (exit 2); a device this build or machine lacks is found by
// resolve_device.
void add_common_flags(CLI::App& app, CommonFlags& flags, const std::string& default_out);

// Adds --device; a malformed value is a flag error (exit 2).
void add_device_flag(CLI::App& app, std::string& device);

// Parses "cpu", "cuda", "cuda:N" and checks that the device exists (built with CUDA, index
// below the device count); throws kite::Error otherwise.
Device resolve_device(const std::string& text);

// ---------------------------------------------------------------------------------------------
// Datasets

struct DatasetFlags {
  std::string name = "fashion-mnist";  // fashion-mnist, mnist, cifar10, folder, shapes
  std::string path;                    // empty: the dataset's default location
  int64_t image_size = 0;      // folder: resize to this (0 = keep); shapes: render size (0 = 64)
  int64_t crop = 0;            // folder: center crop first (0 = none)
  double test_fraction = 0.1;  // folder: the last sorted files held out for testing
  int64_t train_limit = 0;     // keep only the first N training images (0 = all; shapes: 20000)
  int64_t test_limit = 0;      // keep only the first N test images (0 = all; shapes: 2000)

  nlohmann::json to_json() const;
  static DatasetFlags from_json(const nlohmann::json& json);
};

const std::vector<std::string>& dataset_names();
// Where a dataset is looked for when --data is not given ("" for shapes, which is generated).
std::string default_dataset_path(const std::string& name);

// Adds --dataset, --data, --image-size, --crop, --test-fraction, --train-limit, --test-limit.
void add_dataset_flags(CLI::App& app, DatasetFlags& flags);
// Binaries that default to a checkpoint's dataset: `stored`, with the fields whose flags were
// given on the command line (parsed into `given`) replaced.
DatasetFlags override_dataset_flags(const CLI::App& app, const DatasetFlags& stored,
                                    const DatasetFlags& given);
// Whether any dataset flag was given.
bool any_dataset_flag(const CLI::App& app);

struct Datasets {
  std::shared_ptr<const data::ImageSet> train, test;
  std::string name;    // as in DatasetFlags
  std::string source;  // the folder read, or a description of generated data
};

// Loads both splits. A missing folder is reported as "dataset <name>: <path> does not exist
// (...)" so that the caller's one-line error names the path.
Datasets load_datasets(const DatasetFlags& flags);

// The first `count` images (and labels/factors) of a set; the set itself when count <= 0 or
// count >= its size.
std::shared_ptr<const data::ImageSet> first_images(std::shared_ptr<const data::ImageSet> set,
                                                   int64_t count);

// ---------------------------------------------------------------------------------------------
// Ctrl-C

// Installs handlers for SIGINT and SIGTERM that set a flag. The handlers reset themselves, so
// a second signal takes the default action (ends the process) when the loop does not react.
void install_interrupt_handler();
// True once a signal arrived (poll it between steps).
bool interrupt_requested();
// The signal that arrived (SIGINT, SIGTERM) or 0.
int interrupt_signal();
// Forgets the signal and re-installs the handlers.
void clear_interrupt();

// ---------------------------------------------------------------------------------------------
// Training checkpoints

struct TrainingState {
  std::string kind;                                  // what was trained, e.g. "autoencoder", "flow"
  int64_t step = 0;                                  // optimizer steps taken so far
  int64_t epoch = 0;                                 // the epoch in progress (0-based)
  int64_t batch_in_epoch = 0;                        // batches of that epoch already trained on
  std::map<std::string, GeneratorState> generators;  // named random streams to restore
  nlohmann::json config = nlohmann::json::object();  // the run's configuration
  std::map<std::string, std::string> metadata;       // anything else (string values)
};

// Builds the checkpoint (model tensors under "model.", optimizer under "optim.", extra
// tensors under "extra."). The optimizer may be null (inference-only snapshots).
Checkpoint make_training_checkpoint(const nn::Module& model, const optim::Optimizer* optimizer,
                                    const TrainingState& state,
                                    const std::map<std::string, Tensor>& extra_tensors = {});

// Reads a checkpoint written by make_training_checkpoint + save_checkpoint. Every problem (a
// missing, truncated or foreign file, missing keys) throws kite::Error starting with
// "checkpoint <path>: ".
struct LoadedCheckpoint {
  std::string path;
  Checkpoint checkpoint;
  TrainingState state;

  // The tensors under `prefix`, with the prefix removed.
  std::map<std::string, Tensor> tensors_under(const std::string& prefix) const;
  // Copies model.* into the model (strict: names and shapes must match exactly).
  void restore_model(nn::Module& model) const;
  // The model, restored, moved to `device` and in evaluation mode: what the binaries that
  // use a trained model (sample, evaluate, fid, ...) want.
  template <class Model>
  std::shared_ptr<Model> restore_for_inference(std::shared_ptr<Model> model, Device device) const {
    restore_model(*model);
    model->to(device);
    model->eval();
    return model;
  }
  // The configuration's `key` section; an error naming the file when it is missing.
  const nlohmann::json& config_section(const std::string& key) const;
  // Restores optim.* (step count, learning rate, moments).
  void restore_optimizer(optim::Optimizer& optimizer) const;
  // Sets each generator named in the checkpoint; a generator the checkpoint lacks is an error.
  void restore_generator(const std::string& name, Generator& generator) const;
};
LoadedCheckpoint read_training_checkpoint(const std::string& path,
                                          const std::string& expected_kind = "");

// --resume: a setting that decides the loss sequence comes from the checkpoint (`stored`). A
// flag given again with the same value is fine (the same command line plus --resume); a
// different value is an error naming the flag, not silently ignored.
template <class T>
void take_resumed_setting(const CLI::App& app, const char* flag, T& value, const T& stored) {
  KITE_CHECK(app.count(flag) == 0 || value == stored,
             flag << " " << nlohmann::json(value).dump() << " differs from the resumed run's "
                  << nlohmann::json(stored).dump()
                  << "; a resumed run keeps its settings (start a new --out instead)");
  value = stored;
}

// --lr-schedule: "constant" (every step at --lr) or "cosine" (from --lr down to 0 over the
// run's steps: PyTorch's CosineAnnealingLR with eta_min 0). A schedule is a pure function of
// the step, so a resumed run stays on its curve (as long as its total steps do not change).
void add_lr_schedule_flag(CLI::App& app, std::string& schedule);
std::shared_ptr<const optim::LrSchedule> make_lr_schedule(const std::string& schedule, double lr,
                                                          int64_t total_steps);

// Adds the flags of a resumable run: --checkpoint-every, --log-every, --resume, --overwrite.
void add_resume_flags(CLI::App& app, int64_t& checkpoint_every, int64_t& log_every, bool& resume,
                      bool& overwrite);

// --resume: the run's own data (`stored`, its config's "dataset" section). Dataset flags given
// again must name the same data; a difference is an error, not silently ignored.
DatasetFlags take_resumed_dataset(const CLI::App& app, const DatasetFlags& given,
                                  const nlohmann::json& stored);

// Where a run stands: what a checkpoint needs to continue it mid-epoch, and its training time.
struct RunPosition {
  int64_t step = 0, epoch = 0, batch_in_epoch = 0;
  double train_seconds = 0;  // the "train_seconds" metadata (0 when absent)
};
// Where a checkpointed run stopped; an error naming the file when the position lies past an
// epoch of `batches_per_epoch`.
RunPosition resume_position(const LoadedCheckpoint& loaded, int64_t batches_per_epoch);
// The state a resumable run saves: kind, configuration, position, training seconds and world
// size (the binary adds its random streams).
TrainingState resumable_state(const std::string& kind, const nlohmann::json& config,
                              const RunPosition& at, int world_size);

// Keeps DIR/last.safetensors (every save) and, when asked, DIR/best.safetensors (the lowest
// metric so far). Both are written atomically. The best metric so far travels in the
// checkpoints' metadata ("best_metric") so that it survives a resume.
class CheckpointKeeper {
 public:
  explicit CheckpointKeeper(std::string dir, bool keep_best = true);
  std::string last_path() const;
  std::string best_path() const;
  bool keeps_best() const { return keep_best_; }

  void save_last(Checkpoint checkpoint);
  // Saves `checkpoint` as best when metric is below the best so far; true when it did.
  bool save_if_best(Checkpoint checkpoint, double metric);

  std::optional<double> best_metric() const { return best_metric_; }
  // Restores the best metric from a resumed checkpoint's metadata (if it has one).
  void restore(const LoadedCheckpoint& loaded);

 private:
  void stamp(Checkpoint& checkpoint) const;

  std::string dir_;
  bool keep_best_;
  std::optional<double> best_metric_;
};

// ---------------------------------------------------------------------------------------------
// Small helpers

// The process's peak resident set size (VmHWM in /proc/self/status) in MiB; -1 if unknown.
double peak_rss_mib();

// Every JSON object of a JSONL file, in order (blank lines skipped). Throws naming the file
// and line on malformed JSON.
std::vector<nlohmann::json> read_jsonl(const std::string& path);

// Rewrites a JSONL log keeping only records whose "step" is <= max_step (records without a
// step are kept), so that a resumed run does not repeat the steps logged after its
// checkpoint. Atomic. A missing file is left missing.
void truncate_log_after_step(const std::string& path, int64_t max_step);

}  // namespace kite::apps
