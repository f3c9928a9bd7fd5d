// Shared training infrastructure (see training.h).
#include "apps/common/training.h"

#include <signal.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "apps/common/metrics_log.h"
#include "data/cifar10.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "data/shapes.h"
#include "engine/atomic_file.h"
#include "engine/backend.h"
#include "engine/error.h"

namespace kite::apps {

// ---------------------------------------------------------------------------------------------
// Common flags

void add_device_flag(CLI::App& app, std::string& device) {
  app.add_option("--device", device, "Where to run: cpu, cuda or cuda:N")
      ->capture_default_str()
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            try {
              Device::parse(text);
              return "";
            } catch (const Error& e) {
              return e.what();
            }
          },
          "cpu|cuda[:N]"));
}

void add_common_flags(CLI::App& app, CommonFlags& flags, const std::string& default_out) {
  flags.out = default_out;
  add_device_flag(app, flags.device);
  app.add_option("--seed", flags.seed,
                 "Seed of every random stream (initialisation, shuffling, augmentation)")
      ->capture_default_str();
  app.add_option("--out", flags.out, "Folder for checkpoints, logs and metrics")
      ->capture_default_str();
  app.add_option("--threads", flags.threads, "CPU threads (0: OpenMP's default)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
}

Device resolve_device(const std::string& text) {
  const Device device = Device::parse(text);
  if (device.is_cuda()) {
    KITE_CHECK(
        has_backend(DeviceType::CUDA),
        "--device " << text
                    << ": this build has no CUDA back end (built without CUDA); use --device cpu");
    const int count = backend_for(DeviceType::CUDA).device_count();
    KITE_CHECK(device.index < count,
               "--device " << text << ": no such GPU (" << count << " visible)");
  }
  return device;
}

// ---------------------------------------------------------------------------------------------
// Datasets

nlohmann::json DatasetFlags::to_json() const {
  return {{"name", name},
          {"path", path},
          {"image_size", image_size},
          {"crop", crop},
          {"test_fraction", test_fraction},
          {"train_limit", train_limit},
          {"test_limit", test_limit}};
}

DatasetFlags DatasetFlags::from_json(const nlohmann::json& json) {
  DatasetFlags flags;
  flags.name = json.value("name", flags.name);
  flags.path = json.value("path", flags.path);
  flags.image_size = json.value("image_size", flags.image_size);
  flags.crop = json.value("crop", flags.crop);
  flags.test_fraction = json.value("test_fraction", flags.test_fraction);
  flags.train_limit = json.value("train_limit", flags.train_limit);
  flags.test_limit = json.value("test_limit", flags.test_limit);
  return flags;
}

const std::vector<std::string>& dataset_names() {
  static const std::vector<std::string> names = {"fashion-mnist", "mnist", "cifar10", "folder",
                                                 "shapes"};
  return names;
}

std::string default_dataset_path(const std::string& name) {
  if (name == "fashion-mnist") return data::kFashionMnistDir;
  if (name == "mnist") return "/usr/share/datasets/mnist";
  if (name == "cifar10") return "/usr/share/datasets/cifar10";
  if (name == "folder") return "data/images";
  return "";
}

void add_dataset_flags(CLI::App& app, DatasetFlags& flags) {
  app.add_option("--dataset", flags.name,
                 "Training data: fashion-mnist, mnist, cifar10, folder (PNG/JPEG), shapes")
      ->capture_default_str()
      ->check(CLI::IsMember(dataset_names()));
  app.add_option("--data", flags.path,
                 "Dataset folder (default: /usr/share/datasets/<name>; fashion-mnist: " +
                     std::string(data::kFashionMnistDir) + ")");
  app.add_option("--image-size", flags.image_size,
                 "folder: resize to this size; shapes: render size (default 64)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--crop", flags.crop, "folder: center crop to this size before resizing")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--test-fraction", flags.test_fraction,
                 "folder: fraction of the (sorted) files held out for testing")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.9));
  app.add_option("--train-limit", flags.train_limit,
                 "Use only the first N training images (0: all)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--test-limit", flags.test_limit, "Use only the first N test images (0: all)")
      ->check(CLI::NonNegativeNumber);
}

DatasetFlags override_dataset_flags(const CLI::App& app, const DatasetFlags& stored,
                                    const DatasetFlags& given) {
  DatasetFlags out = stored;
  if (app.count("--dataset")) {
    // Another dataset: nothing of the stored one applies.
    out = given;
    return out;
  }
  if (app.count("--data")) out.path = given.path;
  if (app.count("--image-size")) out.image_size = given.image_size;
  if (app.count("--crop")) out.crop = given.crop;
  if (app.count("--test-fraction")) out.test_fraction = given.test_fraction;
  if (app.count("--train-limit")) out.train_limit = given.train_limit;
  if (app.count("--test-limit")) out.test_limit = given.test_limit;
  return out;
}

bool any_dataset_flag(const CLI::App& app) {
  for (const char* flag : {"--dataset", "--data", "--image-size", "--crop", "--test-fraction",
                           "--train-limit", "--test-limit"})
    if (app.count(flag)) return true;
  return false;
}

std::shared_ptr<const data::ImageSet> first_images(std::shared_ptr<const data::ImageSet> set,
                                                   int64_t count) {
  if (count <= 0 || count >= set->n) return set;
  auto subset = std::make_shared<data::ImageSet>();
  subset->n = count;
  subset->c = set->c;
  subset->h = set->h;
  subset->w = set->w;
  subset->pixels.assign(set->pixels.begin(), set->pixels.begin() + count * set->image_bytes());
  if (!set->labels.empty()) subset->labels.assign(set->labels.begin(), set->labels.begin() + count);
  if (!set->factors.empty()) {
    const int64_t f = static_cast<int64_t>(set->factor_names.size());
    subset->factors.assign(set->factors.begin(), set->factors.begin() + count * f);
  }
  subset->factor_names = set->factor_names;
  return subset;
}

Datasets load_datasets(const DatasetFlags& flags) {
  Datasets sets;
  sets.name = flags.name;
  auto keep = [](data::ImageSet set) {
    return std::make_shared<const data::ImageSet>(std::move(set));
  };
  if (flags.name == "shapes") {
    const int64_t size = flags.image_size > 0 ? flags.image_size : 64;
    const int64_t n_train = flags.train_limit > 0 ? flags.train_limit : 20000;
    const int64_t n_test = flags.test_limit > 0 ? flags.test_limit : 2000;
    data::ShapesDataset shapes(size);
    // Two windows of one counter stream: train and test never share a draw (though among
    // 737280 combinations a few images may coincide by chance).
    sets.train = keep(shapes.sample(n_train, 1, 0));
    sets.test = keep(shapes.sample(n_test, 1, n_train));
    sets.source = "synthetic shapes " + std::to_string(size) + "x" + std::to_string(size);
    return sets;
  }
  const std::string path = flags.path.empty() ? default_dataset_path(flags.name) : flags.path;
  KITE_CHECK(std::filesystem::exists(path),
             "dataset " << flags.name << ": " << path
                        << " does not exist (pass --data DIR, or --dataset shapes "
                        << "for generated data)");
  sets.source = path;
  if (flags.name == "fashion-mnist") {
    sets.train = keep(data::load_fashion_mnist(path, data::Split::Train));
    sets.test = keep(data::load_fashion_mnist(path, data::Split::Test));
  } else if (flags.name == "mnist") {
    sets.train = keep(data::load_mnist(path, data::Split::Train));
    sets.test = keep(data::load_mnist(path, data::Split::Test));
  } else if (flags.name == "cifar10") {
    sets.train = keep(data::load_cifar10(path, data::Split::Train));
    sets.test = keep(data::load_cifar10(path, data::Split::Test));
  } else if (flags.name == "folder") {
    KITE_CHECK(flags.test_fraction > 0,
               "dataset folder: --test-fraction must be positive to hold out test images");
    data::ImageFolderOptions options;
    options.crop = flags.crop;
    options.resize = flags.image_size;
    options.test_fraction = flags.test_fraction;
    options.split = data::Split::Train;
    sets.train = keep(data::load_image_folder(path, options));
    options.split = data::Split::Test;
    sets.test = keep(data::load_image_folder(path, options));
  } else {
    KITE_FAIL(
        "unknown dataset '" << flags.name
                            << "' (expected fashion-mnist, mnist, cifar10, folder or shapes)");
  }
  KITE_CHECK(flags.image_size == 0 || flags.name == "folder" || flags.image_size == sets.train->h,
             "dataset " << flags.name << " has " << sets.train->h << "x" << sets.train->w
                        << " images; --image-size " << flags.image_size
                        << " applies to folder and shapes only");
  sets.train = first_images(sets.train, flags.train_limit);
  sets.test = first_images(sets.test, flags.test_limit);
  return sets;
}

// ---------------------------------------------------------------------------------------------
// Ctrl-C

namespace {

volatile sig_atomic_t g_signal = 0;

extern "C" void on_interrupt_signal(int signal_number) { g_signal = signal_number; }

}  // namespace

void install_interrupt_handler() {
  struct sigaction action {};
  action.sa_handler = on_interrupt_signal;
  sigemptyset(&action.sa_mask);
  // One-shot: a second Ctrl-C gets the default action, so a stuck run can still be killed.
  action.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

bool interrupt_requested() { return g_signal != 0; }

int interrupt_signal() { return g_signal; }

void clear_interrupt() {
  g_signal = 0;
  install_interrupt_handler();
}

// ---------------------------------------------------------------------------------------------
// Training checkpoints

namespace {

constexpr const char* kFormat = "kite-training-checkpoint";
constexpr const char* kModelPrefix = "model.";
constexpr const char* kOptimPrefix = "optim.";
constexpr const char* kExtraPrefix = "extra.";
constexpr const char* kGeneratorPrefix = "generator.";

int64_t parse_count(const std::string& where, const std::map<std::string, std::string>& metadata,
                    const std::string& key) {
  auto it = metadata.find(key);
  KITE_CHECK(it != metadata.end(), where << "metadata lacks '" << key << "'");
  int64_t value = 0;
  size_t used = 0;
  try {
    value = std::stoll(it->second, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  KITE_CHECK(used == it->second.size() && !it->second.empty() && value >= 0,
             where << "metadata '" << key << "' is not a count: '" << it->second << "'");
  return value;
}

}  // namespace

Checkpoint make_training_checkpoint(const nn::Module& model, const optim::Optimizer* optimizer,
                                    const TrainingState& state,
                                    const std::map<std::string, Tensor>& extra_tensors) {
  Checkpoint checkpoint;
  for (const auto& [name, tensor] : model.state_dict())
    checkpoint.tensors[kModelPrefix + name] = tensor;
  if (optimizer)
    for (auto& [name, tensor] : optimizer->state_tensors(kOptimPrefix))
      checkpoint.tensors[name] = tensor;
  for (const auto& [name, tensor] : extra_tensors) checkpoint.tensors[kExtraPrefix + name] = tensor;
  auto& meta = checkpoint.metadata;
  meta = state.metadata;
  meta["format"] = kFormat;
  meta["kind"] = state.kind;
  meta["step"] = std::to_string(state.step);
  meta["epoch"] = std::to_string(state.epoch);
  meta["batch_in_epoch"] = std::to_string(state.batch_in_epoch);
  meta["has_optimizer"] = optimizer ? "1" : "0";
  meta["config"] = state.config.dump();
  for (const auto& [name, generator] : state.generators)
    meta[kGeneratorPrefix + name] = generator.to_string();
  return checkpoint;
}

void add_lr_schedule_flag(CLI::App& app, std::string& schedule) {
  app.add_option("--lr-schedule", schedule,
                 "constant, or cosine: from --lr down to 0 over the run's steps")
      ->check(CLI::IsMember({"constant", "cosine"}))
      ->capture_default_str();
}

std::shared_ptr<const optim::LrSchedule> make_lr_schedule(const std::string& schedule, double lr,
                                                          int64_t total_steps) {
  if (schedule == "constant") return std::make_shared<optim::ConstantLr>(lr);
  KITE_CHECK(schedule == "cosine",
             "--lr-schedule: unknown schedule '" << schedule << "' (expected constant or cosine)");
  return std::make_shared<optim::CosineLr>(lr, 0.0, total_steps);
}

void add_resume_flags(CLI::App& app, int64_t& checkpoint_every, int64_t& log_every, bool& resume,
                      bool& overwrite) {
  app.add_option("--checkpoint-every", checkpoint_every,
                 "Also save last.safetensors every N steps (0: only the run's regular saves "
                 "and on Ctrl-C)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--log-every", log_every, "Write a log.jsonl record every N steps")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_flag("--resume", resume, "Continue the run in --out from its last.safetensors");
  app.add_flag("--overwrite", overwrite, "Start a new run even if --out already holds one");
}

DatasetFlags take_resumed_dataset(const CLI::App& app, const DatasetFlags& given,
                                  const nlohmann::json& stored) {
  const DatasetFlags stored_flags = DatasetFlags::from_json(stored);
  KITE_CHECK(override_dataset_flags(app, stored_flags, given).to_json() == stored_flags.to_json(),
             "dataset flags differ from the resumed run's "
                 << stored_flags.to_json().dump()
                 << "; a resumed run keeps its data (start a new --out instead)");
  return stored_flags;
}

RunPosition resume_position(const LoadedCheckpoint& loaded, int64_t batches_per_epoch) {
  RunPosition at{loaded.state.step, loaded.state.epoch, loaded.state.batch_in_epoch, 0.0};
  KITE_CHECK(at.batch_in_epoch <= batches_per_epoch,
             "checkpoint " << loaded.path << ": position " << at.batch_in_epoch << " is past the "
                           << batches_per_epoch << " batches of an epoch");
  if (auto it = loaded.state.metadata.find("train_seconds"); it != loaded.state.metadata.end())
    at.train_seconds = std::stod(it->second);
  return at;
}

TrainingState resumable_state(const std::string& kind, const nlohmann::json& config,
                              const RunPosition& at, int world_size) {
  TrainingState state;
  state.kind = kind;
  state.step = at.step;
  state.epoch = at.epoch;
  state.batch_in_epoch = at.batch_in_epoch;
  state.config = config;
  state.metadata["world_size"] = std::to_string(world_size);
  state.metadata["train_seconds"] = std::to_string(at.train_seconds);
  return state;
}

LoadedCheckpoint read_training_checkpoint(const std::string& path,
                                          const std::string& expected_kind) {
  const std::string where = "checkpoint " + path + ": ";
  LoadedCheckpoint loaded;
  loaded.path = path;
  try {
    loaded.checkpoint = load_checkpoint(path);
  } catch (const Error& e) {
    // The reader's message already names the file; say what we were doing.
    KITE_FAIL("cannot load checkpoint: " << e.what());
  }
  const auto& meta = loaded.checkpoint.metadata;
  auto format = meta.find("format");
  KITE_CHECK(format != meta.end() && format->second == kFormat,
             where << "not a kite training checkpoint (metadata 'format' is "
                   << (format == meta.end() ? std::string("missing") : "'" + format->second + "'")
                   << ")");
  TrainingState& state = loaded.state;
  auto kind = meta.find("kind");
  state.kind = kind == meta.end() ? "" : kind->second;
  KITE_CHECK(expected_kind.empty() || state.kind == expected_kind,
             where << "holds a '" << state.kind << "' model, expected '" << expected_kind << "'");
  state.step = parse_count(where, meta, "step");
  state.epoch = parse_count(where, meta, "epoch");
  state.batch_in_epoch = parse_count(where, meta, "batch_in_epoch");
  auto config = meta.find("config");
  KITE_CHECK(config != meta.end(), where << "metadata lacks 'config'");
  try {
    state.config = nlohmann::json::parse(config->second);
  } catch (const nlohmann::json::exception& e) {
    KITE_FAIL(where << "metadata 'config' is not valid JSON: " << e.what());
  }
  for (const auto& [key, value] : meta) {
    if (key.rfind(kGeneratorPrefix, 0) == 0) {
      try {
        state.generators[key.substr(std::string(kGeneratorPrefix).size())] =
            GeneratorState::from_string(value);
      } catch (const Error& e) {
        KITE_FAIL(where << "metadata '" << key << "': " << e.what());
      }
    } else if (key != "format" && key != "kind" && key != "step" && key != "epoch" &&
               key != "batch_in_epoch" && key != "config" && key != "has_optimizer") {
      state.metadata[key] = value;
    }
  }
  bool any_model = false;
  for (const auto& [name, tensor] : loaded.checkpoint.tensors)
    any_model |= name.rfind(kModelPrefix, 0) == 0;
  KITE_CHECK(any_model, where << "holds no model tensors");
  return loaded;
}

std::map<std::string, Tensor> LoadedCheckpoint::tensors_under(const std::string& prefix) const {
  std::map<std::string, Tensor> out;
  for (const auto& [name, tensor] : checkpoint.tensors)
    if (name.rfind(prefix, 0) == 0) out[name.substr(prefix.size())] = tensor;
  return out;
}

void LoadedCheckpoint::restore_model(nn::Module& model) const {
  try {
    model.load_state_dict(tensors_under(kModelPrefix), true);
  } catch (const Error& e) {
    KITE_FAIL("checkpoint " << path << ": " << e.what());
  }
}

const nlohmann::json& LoadedCheckpoint::config_section(const std::string& key) const {
  KITE_CHECK(state.config.is_object() && state.config.contains(key),
             "checkpoint " << path << ": configuration lacks '" << key << "'");
  return state.config[key];
}

void LoadedCheckpoint::restore_optimizer(optim::Optimizer& optimizer) const {
  auto has = checkpoint.metadata.find("has_optimizer");
  KITE_CHECK(
      has != checkpoint.metadata.end() && has->second == "1",
      "checkpoint " << path
                    << ": holds no optimizer state (an inference-only snapshot cannot be resumed)");
  try {
    optimizer.load_state_tensors(checkpoint.tensors, kOptimPrefix);
  } catch (const Error& e) {
    KITE_FAIL("checkpoint " << path << ": " << e.what());
  }
}

void LoadedCheckpoint::restore_generator(const std::string& name, Generator& generator) const {
  auto it = state.generators.find(name);
  KITE_CHECK(it != state.generators.end(),
             "checkpoint " << path << ": no state for random generator '" << name << "'");
  generator.set_state(it->second);
}

CheckpointKeeper::CheckpointKeeper(std::string dir, bool keep_best)
    : dir_(std::move(dir)), keep_best_(keep_best) {
  std::filesystem::create_directories(dir_);
}

std::string CheckpointKeeper::last_path() const {
  return (std::filesystem::path(dir_) / "last.safetensors").string();
}

std::string CheckpointKeeper::best_path() const {
  return (std::filesystem::path(dir_) / "best.safetensors").string();
}

void CheckpointKeeper::stamp(Checkpoint& checkpoint) const {
  if (best_metric_) {
    std::ostringstream text;
    text.precision(17);
    text << *best_metric_;
    checkpoint.metadata["best_metric"] = text.str();
  }
}

void CheckpointKeeper::save_last(Checkpoint checkpoint) {
  stamp(checkpoint);
  save_checkpoint(last_path(), checkpoint);
}

bool CheckpointKeeper::save_if_best(Checkpoint checkpoint, double metric) {
  if (!keep_best_ || !std::isfinite(metric) || (best_metric_ && metric >= *best_metric_))
    return false;
  best_metric_ = metric;
  stamp(checkpoint);
  save_checkpoint(best_path(), checkpoint);
  return true;
}

void CheckpointKeeper::restore(const LoadedCheckpoint& loaded) {
  auto it = loaded.state.metadata.find("best_metric");
  if (it == loaded.state.metadata.end()) return;
  try {
    best_metric_ = std::stod(it->second);
  } catch (const std::exception&) {
    KITE_FAIL("checkpoint " << loaded.path << ": metadata 'best_metric' is not a number: '"
                            << it->second << "'");
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

double peak_rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      double kib = 0;
      fields >> kib;
      return kib / 1024.0;
    }
  }
  return -1.0;
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream in(path);
  KITE_CHECK(in.good(), "cannot open " << path << " for reading");
  std::vector<nlohmann::json> records;
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      records.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::exception& e) {
      KITE_FAIL(path << ":" << number << ": not valid JSON: " << e.what());
    }
  }
  return records;
}

void truncate_log_after_step(const std::string& path, int64_t max_step) {
  if (!std::filesystem::exists(path)) return;
  std::ifstream in(path);
  KITE_CHECK(in.good(), "cannot open " << path << " for reading");
  std::ostringstream kept;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
    // Unparseable lines (a crash mid-write) go; so do records past the checkpoint.
    if (record.is_discarded()) continue;
    if (record.is_object() && record.contains("step") && record["step"].is_number_integer() &&
        record["step"].get<int64_t>() > max_step)
      continue;
    kept << line << "\n";
  }
  in.close();
  write_file_atomically(path, kept.str());
}

}  // namespace kite::apps
