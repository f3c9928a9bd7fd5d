// CIFAR-10 in its binary form: data_batch_1.bin .. data_batch_5.bin and test_batch.bin.
#include "data/cifar10.h"

#include <filesystem>

#include "data/file_bytes.h"
#include "engine/error.h"

namespace kite::data {

ImageSet parse_cifar10_batch(const std::vector<uint8_t>& bytes, const std::string& name) {
  const size_t record = kCifar10RecordBytes;
  KITE_CHECK(!bytes.empty(), name << ": empty file (0 bytes), expected CIFAR-10 records");
  KITE_CHECK(bytes.size() % record == 0,
             name << ": size " << bytes.size() << " is not a multiple of the " << record
                  << "-byte CIFAR-10 record (truncated, or not a CIFAR-10 binary batch; "
                  << bytes.size() % record << " bytes left over after " << bytes.size() / record
                  << " records)");
  ImageSet set;
  set.n = static_cast<int64_t>(bytes.size() / record);
  set.c = 3;
  set.h = 32;
  set.w = 32;
  set.pixels.resize(bytes.size() - set.n);
  set.labels.resize(set.n);
  for (int64_t i = 0; i < set.n; ++i) {
    const uint8_t* in = bytes.data() + i * record;
    KITE_CHECK(in[0] <= 9, name << ": record " << i << " has label " << int{in[0]}
                                << ", expected 0..9 (not a CIFAR-10 batch?)");
    set.labels[i] = in[0];
    std::copy(in + 1, in + record, set.pixels.begin() + i * (record - 1));
  }
  return set;
}

ImageSet read_cifar10_batch(const std::string& path) {
  return parse_cifar10_batch(read_file_bytes(path), path);
}

ImageSet load_cifar10(const std::string& dir, Split split) {
  std::error_code ec;
  KITE_CHECK(std::filesystem::is_directory(dir, ec), "CIFAR-10: " << dir << ": no such folder");
  std::filesystem::path root = dir;
  if (std::filesystem::is_directory(root / "cifar-10-batches-bin", ec)) {
    root /= "cifar-10-batches-bin";
  }
  std::vector<std::string> files;
  if (split == Split::Train) {
    for (int b = 1; b <= 5; ++b) files.push_back("data_batch_" + std::to_string(b) + ".bin");
  } else {
    files.push_back("test_batch.bin");
  }

  ImageSet all;
  all.c = 3;
  all.h = 32;
  all.w = 32;
  for (const auto& file : files) {
    const std::string path = (root / file).string();
    KITE_CHECK(std::filesystem::exists(path, ec),
               "CIFAR-10 " << split_name(split) << " split: " << path << ": no such file");
    ImageSet batch = read_cifar10_batch(path);
    all.n += batch.n;
    all.pixels.insert(all.pixels.end(), batch.pixels.begin(), batch.pixels.end());
    all.labels.insert(all.labels.end(), batch.labels.begin(), batch.labels.end());
  }
  return all;
}

const std::vector<std::string>& cifar10_class_names() {
  static const std::vector<std::string> names = {
      "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
  return names;
}

}  // namespace kite::data
