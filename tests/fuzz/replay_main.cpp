// Corpus replay: a main() for one fuzz target that feeds it every file
// named on the command line (directories: every regular file below them,
// in sorted order), so the seed corpus and every minimised crash saved into
// it run as a normal `meson test` with any compiler. A crash or failed
// invariant aborts the process, naming the input first on stderr; a clean
// run ends with the `RESULT: N passed, 0 failed` line .ci/dev.sh counts.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz_target.hpp"

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> inputs_of(const std::vector<std::string>& args) {
  std::vector<fs::path> inputs;
  for (const auto& arg : args) {
    if (fs::is_directory(arg)) {
      std::vector<fs::path> found;
      for (const auto& entry : fs::recursive_directory_iterator(arg))
        if (entry.is_regular_file()) found.push_back(entry.path());
      std::sort(found.begin(), found.end());
      inputs.insert(inputs.end(), found.begin(), found.end());
    } else {
      inputs.emplace_back(arg);
    }
  }
  return inputs;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
    return 2;
  }
  auto inputs = inputs_of(args);
  if (inputs.empty()) {
    std::fprintf(stderr, "no corpus files under the given paths\n");
    return 1;  // an empty corpus is a misconfigured test, not a pass
  }
  for (const auto& path : inputs) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cannot read %s\n", path.c_str());
      return 1;
    }
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::fprintf(stderr, "replay %s (%zu bytes)\n", path.c_str(), bytes.size());
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
  std::printf("replayed %zu inputs\nRESULT: %zu passed, 0 failed\n", inputs.size(), inputs.size());
  return 0;
}
