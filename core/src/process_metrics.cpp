#include "process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace hive {
namespace {

prometheus::MetricFamily Gauge(std::string name, std::string help, double value,
                               prometheus::MetricType type = prometheus::MetricType::Gauge) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
  return f;
}

// Reads /proc/self at scrape time, like the official client libraries' process collector.
class ProcessCollector {
 public:
  ProcessCollector() {
    ticks_ = static_cast<double>(sysconf(_SC_CLK_TCK));
    page_ = static_cast<double>(sysconf(_SC_PAGESIZE));
    std::ifstream stat("/proc/stat");
    std::string line;
    while (std::getline(stat, line)) {
      if (line.rfind("btime ", 0) == 0) boot_time_ = std::stod(line.substr(6));
    }
  }

  std::vector<prometheus::MetricFamily> Collect() const {
    std::vector<prometheus::MetricFamily> out;
    std::ifstream f("/proc/self/stat");
    std::string content((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    size_t paren = content.rfind(')');
    if (paren == std::string::npos) return out;
    std::istringstream rest(content.substr(paren + 2));
    std::vector<std::string> fields;
    std::string tok;
    while (rest >> tok) fields.push_back(tok);
    // fields[0] is field 3 (state) of proc(5).
    if (fields.size() < 22) return out;
    double utime = std::stod(fields[11]), stime = std::stod(fields[12]);
    double start = std::stod(fields[19]);
    double vsize = std::stod(fields[20]), rss = std::stod(fields[21]);
    out.push_back(Gauge("process_cpu_seconds_total",
                        "Total user and system CPU time spent in seconds.",
                        (utime + stime) / ticks_, prometheus::MetricType::Counter));
    out.push_back(
        Gauge("process_resident_memory_bytes", "Resident memory size in bytes.", rss * page_));
    out.push_back(Gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", vsize));
    out.push_back(Gauge("process_start_time_seconds",
                        "Start time of the process since unix epoch in seconds.",
                        boot_time_ + start / ticks_));
    int fds = 0;
    if (DIR* d = opendir("/proc/self/fd")) {
      while (readdir(d) != nullptr) ++fds;
      closedir(d);
      fds -= 3;  // ".", ".." and the directory's own descriptor
    }
    out.push_back(Gauge("process_open_fds", "Number of open file descriptors.", fds));
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
      out.push_back(Gauge("process_max_fds", "Maximum number of open file descriptors.",
                          static_cast<double>(lim.rlim_cur)));
    }
    return out;
  }

 private:
  double ticks_ = 100;
  double page_ = 4096;
  double boot_time_ = 0;
};

}  // namespace

std::vector<prometheus::MetricFamily> CollectProcessMetrics() {
  static const ProcessCollector collector;
  return collector.Collect();
}

}  // namespace hive
