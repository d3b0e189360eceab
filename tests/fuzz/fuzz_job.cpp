// Fuzz target: hdvila-generate job files (generation/job.h).
//
// The input is a whole JSONL job file, read through read_job_file. A line comes back as a job or
// as an error naming file:line; the file as a whole may be refused with an error naming it.
#include "generation/job.h"
#include "tests/fuzz/fuzz_target.h"

HDV_FUZZ_TARGET(job) {
  using namespace hdv;
  const std::filesystem::path path =
      fuzz::write_input("jobs.jsonl", std::string_view(reinterpret_cast<const char*>(data), size));
  const std::string source = path.string();
  fuzz::expect_clean(
      [&] {
        for (const gen::JobLine& line : gen::read_job_file(path)) {
          if (line.where.rfind(source + ":", 0) != 0) fuzz::finding("job line where does not name the file", line.where);
          if (!line.job && line.error.find(line.where) == std::string::npos) {
            fuzz::finding("job line error does not name " + line.where, line.error);
          }
          if (line.job) gen::validate_job(*line.job);  // what came back valid stays valid
        }
      },
      [&](const core::Error& e) { fuzz::check_names_input(e, source); });
  return 0;
}
