// bench_data: throughput of the data path, in images per second.
//
//   1. Fashion-MNIST (IDX, in memory after reading) through the DataLoader to float batches
//      of --batch images: with prefetching (a background thread converts the next batches) and
//      without it, and with random erasing on. Target: >= 50,000 images/s on 2 cores.
//   2. A folder of PNGs: decoding alone (in-memory bytes through libpng, no file system), then
//      load_image_folder (list, read, decode, stack), then the loader over the decoded set.
//      With --png-folder the folder is yours; otherwise the first --png-count Fashion-MNIST
//      test images are written as PNGs into a temporary folder (removed at the end).
//
// "Consuming" a batch means touching every float once (a sum), so a lazy loader could not
// look fast by handing out batches nobody reads.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <unistd.h>

#include "apps/common/main.h"
#include "data/file_bytes.h"
#include "data/idx.h"
#include "data/image_file.h"
#include "data/image_folder.h"
#include "data/loader.h"
#include "data/png_writer.h"
#include "engine/error.h"

namespace {

using namespace kite;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Best images/s of `repeats` runs of `run`, which processes `images` images.
double best_rate(int repeats, int64_t images, const std::function<void()>& run) {
  double best = 0;
  for (int r = 0; r < repeats; ++r) {
    const auto start = Clock::now();
    run();
    best = std::max(best, static_cast<double>(images) / seconds_since(start));
  }
  return best;
}

// One epoch of the loader; returns the number of images seen.
int64_t consume_epoch(data::DataLoader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  int64_t seen = 0;
  volatile float sink = 0;
  while (auto batch = loader.next()) {
    const float* p = batch->images.data_ptr<float>();
    float s = 0;
    for (int64_t i = 0; i < batch->images.numel(); ++i) s += p[i];
    sink = sink + s;
    seen += batch->images.size(0);
  }
  return seen;
}

void print_row(const std::string& what, double images_per_second, const std::string& note = "") {
  std::printf("%-44s %12.0f images/s  %s\n", what.c_str(), images_per_second, note.c_str());
}

void bench_loader(const std::string& label, std::shared_ptr<const data::ImageSet> set,
                  int64_t batch, int repeats) {
  for (int prefetch : {2, 0}) {
    for (bool erase : {false, true}) {
      data::LoaderOptions options;
      options.batch_size = batch;
      options.prefetch = prefetch;
      options.random_erasing = erase;
      data::DataLoader loader(set, options);
      int64_t epoch = 0;
      const double rate = best_rate(repeats, set->n, [&] { consume_epoch(loader, epoch++); });
      print_row(label + (prefetch ? ", prefetch 2" : ", no prefetch") + (erase ? ", erasing" : ""),
                rate);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Data-path throughput: Fashion-MNIST through the loader, and PNG folders"};
  std::string fmnist_dir = "/usr/share/datasets/fashion-mnist";
  std::string png_folder;
  int64_t png_count = 5000;
  int64_t batch = 64;
  int repeats = 3;
  int threads = 0;
  app.add_option("--data", fmnist_dir, "Fashion-MNIST folder")->capture_default_str();
  app.add_option(
      "--png-folder", png_folder,
      "A folder of PNG/JPEG images (default: Fashion-MNIST test images written as PNGs)");
  app.add_option("--png-count", png_count, "Images written when --png-folder is not given")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{10000}));
  app.add_option("--batch", batch, "Batch size")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--repeats", repeats, "Runs per row (the best is reported)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "OpenMP threads (0: default)")->capture_default_str();
  return apps::run_main(app, argc, argv, [&] {
    const int used = apps::configure_threads(threads);
    std::printf("bench_data: %d OpenMP thread(s), batch %lld, best of %d\n\n", used,
                static_cast<long long>(batch), repeats);

    // ---- 1. Fashion-MNIST ----
    auto start = Clock::now();
    auto train =
        std::make_shared<data::ImageSet>(data::load_fashion_mnist(fmnist_dir, data::Split::Train));
    const double read_seconds = seconds_since(start);
    print_row("fashion-mnist: read + gunzip train set (once)", train->n / read_seconds,
              "(" + std::to_string(train->n) + " images)");
    bench_loader("fashion-mnist loader", train, batch, repeats);

    // ---- 2. PNG folder ----
    std::filesystem::path folder = png_folder;
    std::filesystem::path temporary;
    if (png_folder.empty()) {
      auto test = data::load_fashion_mnist(fmnist_dir, data::Split::Test);
      temporary = std::filesystem::temp_directory_path() /
                  ("kite_bench_data_" + std::to_string(::getpid()));
      std::filesystem::create_directories(temporary);
      const int64_t count = std::min(png_count, test.n);
      for (int64_t i = 0; i < count; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "%05lld.png", static_cast<long long>(i));
        data::write_png((temporary / name).string(), test.c, test.h, test.w, test.image(i));
      }
      folder = temporary;
    }
    std::vector<std::vector<uint8_t>> files;
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(folder)) {
      if (!entry.is_regular_file() || !data::is_image_file_name(entry.path().string())) continue;
      names.push_back(entry.path().string());
      files.push_back(data::read_file_bytes(entry.path().string()));
    }
    KITE_CHECK(!files.empty(), "bench_data: no PNG/JPEG files in " << folder.string());
    const auto count = static_cast<int64_t>(files.size());
    std::printf("\nfolder %s: %lld images\n", folder.string().c_str(),
                static_cast<long long>(count));
    const double decode_rate = best_rate(repeats, count, [&] {
      for (size_t i = 0; i < files.size(); ++i)
        data::decode_image(files[i].data(), files[i].size(), names[i]);
    });
    print_row("decode only (bytes in memory, one thread)", decode_rate);
    std::shared_ptr<data::ImageSet> decoded;
    const double folder_rate = best_rate(repeats, count, [&] {
      decoded = std::make_shared<data::ImageSet>(data::load_image_folder(folder.string()));
    });
    print_row("load_image_folder (read + decode + stack)", folder_rate,
              "(" + std::to_string(static_cast<int>(100 * folder_rate / decode_rate)) +
                  "% of decode-only)");
    bench_loader("decoded folder loader", decoded, batch, repeats);
    if (!temporary.empty()) std::filesystem::remove_all(temporary);
    return 0;
  });
}
