// Runs a fuzz target over files and directories of inputs without libFuzzer, so the ordinary
// (gcc) build replays every seed and every past finding as a test: a finding fixed once stays
// fixed. libFuzzer builds (ORDERLY_FUZZ=ON) link libFuzzer's own main instead.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

int run_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  int inputs = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg(argv[i]);
    if (std::filesystem::is_directory(arg)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(arg))
        if (entry.is_regular_file()) inputs += run_file(entry.path());
    } else if (std::filesystem::is_regular_file(arg)) {
      inputs += run_file(arg);
    } else {
      std::fprintf(stderr, "%s: no such file or directory: give seed corpus directories or input files\n", argv[i]);
      return 2;
    }
  }
  std::printf("replayed %d inputs\n", inputs);
  // A target with no inputs would pass while testing nothing.
  return inputs > 0 ? 0 : 1;
}
