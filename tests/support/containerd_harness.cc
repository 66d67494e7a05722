#include "support/containerd_harness.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#ifndef VIGIL_CRI_IMAGES_SCRIPT
#define VIGIL_CRI_IMAGES_SCRIPT ""
#endif
#ifndef VIGIL_CRI_IMAGES_DIR
#define VIGIL_CRI_IMAGES_DIR ""
#endif

namespace vigil::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string tail(const std::string& text, size_t bytes) {
  return text.size() <= bytes ? text : "..." + text.substr(text.size() - bytes);
}

// Runs argv (looked up in PATH) with stdout and stderr appended to log;
// returns its exit code (128+signal when killed, 127 when it did not exec).
int run(const std::vector<std::string>& argv, const std::string& log) {
  std::vector<char*> args;
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    throw std::runtime_error(std::string("fork: ") + strerror(errno));
  }
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return WEXITSTATUS(status);
}

std::string join(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    s += (s.empty() ? "" : " ") + a;
  }
  return s;
}

// Mount points of every cgroup hierarchy (v1 controllers and v2).
std::vector<std::string> cgroupMounts() {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // ... mount-point ... - fstype source options
    std::istringstream s(line);
    std::string id, parent, dev, root, mount_point;
    s >> id >> parent >> dev >> root >> mount_point;
    auto dash = line.find(" - ");
    if (dash == std::string::npos) {
      continue;
    }
    std::istringstream rest(line.substr(dash + 3));
    std::string fstype;
    rest >> fstype;
    if (fstype == "cgroup" || fstype == "cgroup2") {
      out.push_back(mount_point);
    }
  }
  return out;
}

// Mount points at or under dir, deepest first.
std::vector<std::string> mountsUnder(const std::string& dir) {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    std::string id, parent, dev, root, mount_point;
    s >> id >> parent >> dev >> root >> mount_point;
    if (mount_point == dir || mount_point.starts_with(dir + "/")) {
      out.push_back(mount_point);
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  return out;
}

// Processes whose command line names path as a whole argument.
std::vector<pid_t> processesNaming(const std::string& path, std::string_view binary) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) {
      continue;
    }
    std::string cmdline = slurp(entry.path() / "cmdline");
    if (cmdline.find(binary) == std::string::npos) {
      continue;
    }
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(" " + path + " ") != std::string::npos) {
      out.push_back(std::stoi(name));
    }
  }
  return out;
}

// Kills the shims of the containerd serving socket and every process left
// in the cgroups under cgroup_parent (the containers).
void killLeftovers(const std::string& socket, const std::string& cgroup_parent) {
  for (pid_t pid : processesNaming(socket, "containerd-shim")) {
    kill(pid, SIGKILL);
  }
  std::error_code ec;
  for (int pass = 0; pass < 20; ++pass) {
    bool any = false;
    for (const auto& mount_point : cgroupMounts()) {
      fs::path root = mount_point + cgroup_parent;
      if (!fs::is_directory(root, ec)) {
        continue;
      }
      std::vector<fs::path> procs_files = {root / "cgroup.procs"};
      for (auto it = fs::recursive_directory_iterator(root, ec); it != fs::recursive_directory_iterator();
           it.increment(ec)) {
        if (it->path().filename() == "cgroup.procs") {
          procs_files.push_back(it->path());
        }
      }
      for (const auto& f : procs_files) {
        std::istringstream procs(slurp(f));
        pid_t pid;
        while (procs >> pid) {
          kill(pid, SIGKILL);
          any = true;
        }
      }
    }
    if (!any) {
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
}

// Removes the cgroups under cgroup_parent, and it, in every hierarchy.
void removeCgroups(const std::string& cgroup_parent) {
  std::error_code ec;
  for (const auto& mount_point : cgroupMounts()) {
    fs::path root = mount_point + cgroup_parent;
    if (!fs::is_directory(root, ec)) {
      continue;
    }
    // Deepest first: rmdir removes a cgroup once it has no children.
    std::vector<fs::path> dirs;
    for (auto it = fs::recursive_directory_iterator(root, ec); it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (it->is_directory(ec)) {
        dirs.push_back(it->path());
      }
    }
    std::sort(dirs.begin(), dirs.end(),
              [](const auto& a, const auto& b) { return a.string().size() > b.string().size(); });
    dirs.push_back(root);
    for (const auto& d : dirs) {
      rmdir(d.c_str());
    }
  }
}

void unmountUnder(const std::string& dir) {
  for (int pass = 0; pass < 5; ++pass) {
    auto mounts = mountsUnder(dir);
    if (mounts.empty()) {
      return;
    }
    for (const auto& m : mounts) {
      umount2(m.c_str(), MNT_DETACH);
    }
  }
}

// Everything a harness in dir may have left running or mounted.
void cleanUp(const std::string& dir) {
  std::string name = fs::path(dir).filename();
  killLeftovers(dir + "/containerd.sock", "/" + name);
  removeCgroups("/" + name);
  unmountUnder(dir);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

// The remains of harnesses whose test was killed before its teardown: the
// test's death killed containerd (PDEATHSIG), but shims, containers, cgroups
// and mounts stay. A dir whose config is older than a minute and that no
// containerd serves is such a remain; a harness starting now has a younger
// config or a live containerd.
void cleanStale() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/tmp", ec)) {
    std::string name = entry.path().filename();
    if (!name.starts_with("vigil-cri-") || name.size() != 16 || !entry.is_directory(ec)) {
      continue;
    }
    std::string config = entry.path().string() + "/config.toml";
    auto written = fs::last_write_time(config, ec);
    if (ec || fs::file_time_type::clock::now() - written < 60s) {
      continue;
    }
    if (!processesNaming(config, "containerd").empty()) {
      continue;
    }
    cleanUp(entry.path().string());
  }
}

} // namespace

ContainerdHarness::ContainerdHarness(ContainerdHarnessOptions options) : options_(std::move(options)) {
  if (options_.images_script.empty()) {
    options_.images_script = VIGIL_CRI_IMAGES_SCRIPT;
  }
  if (options_.images_dir.empty()) {
    options_.images_dir = VIGIL_CRI_IMAGES_DIR;
  }
  try {
    start();
  } catch (...) {
    teardown();
    throw;
  }
}

ContainerdHarness::~ContainerdHarness() { teardown(); }

void ContainerdHarness::start() {
  cleanStale();
  char tmpl[] = "/tmp/vigil-cri-XXXXXX";
  if (!mkdtemp(tmpl)) {
    throw std::runtime_error(std::string("mkdtemp: ") + strerror(errno));
  }
  dir_ = tmpl;
  for (const char* sub : {"root", "state", "runc", "opt", "cni/bin", "cni/conf"}) {
    fs::create_directories(dir_ + "/" + sub);
  }
  socket_ = dir_ + "/containerd.sock";
  config_ = dir_ + "/config.toml";
  log_ = dir_ + "/containerd.log";
  // The kubelet's cgroupfs layout (kubepods/<qos>/pod<uid>/<container>)
  // under a directory of this harness's own, so the agent recognizes pods.
  cgroup_parent_ = "/" + fs::path(dir_).filename().string() + "/kubepods/besteffort";
  if (options_.snapshotter.empty()) {
    if (const char* env = getenv("VIGIL_CRI_SNAPSHOTTER"); env && *env) {
      options_.snapshotter = env;
    }
  }
  snapshotter_ = options_.snapshotter.empty() ? chooseSnapshotter() : options_.snapshotter;
  writeConfig();

  pid_t pid = fork();
  if (pid < 0) {
    throw std::runtime_error(std::string("fork: ") + strerror(errno));
  }
  if (pid == 0) {
    // Dies with the test, even when the test is killed.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int null = open("/dev/null", O_RDONLY);
    int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (null >= 0) {
      dup2(null, 0);
    }
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execlp("containerd", "containerd", "--config", config_.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  containerd_pid_ = pid;

  auto client = cri::CriClient::create({.endpoint = endpoint(), .timeout = std::chrono::milliseconds(2000)});
  if (!client) {
    throw std::runtime_error(client.error().message());
  }
  client_ = std::move(*client);
  waitForCri();
  buildAndImportImages();
}

std::string ContainerdHarness::chooseSnapshotter() {
  // containerd's overlayfs snapshotter needs overlay mounts on the
  // filesystem of its root; try one there.
  std::string base = dir_ + "/overlay-probe";
  for (const char* sub : {"lower", "upper", "work", "merged"}) {
    fs::create_directories(base + "/" + sub);
  }
  std::string opts = "lowerdir=" + base + "/lower,upperdir=" + base + "/upper,workdir=" + base + "/work";
  std::string chosen = "native";
  if (mount("overlay", (base + "/merged").c_str(), "overlay", 0, opts.c_str()) == 0) {
    umount2((base + "/merged").c_str(), MNT_DETACH);
    chosen = "overlayfs";
  }
  std::error_code ec;
  fs::remove_all(base, ec);
  return chosen;
}

void ContainerdHarness::writeConfig() {
  std::ofstream out(config_);
  out << "# Written by the Vigil test harness: a private containerd under " << dir_ << "\n"
      << "version = 2\n"
      << "root = \"" << dir_ << "/root\"\n"
      << "state = \"" << dir_ << "/state\"\n"
      << "disabled_plugins = [\"io.containerd.snapshotter.v1.aufs\", \"io.containerd.snapshotter.v1.btrfs\",\n"
      << "  \"io.containerd.snapshotter.v1.devmapper\", \"io.containerd.snapshotter.v1.zfs\"]\n"
      << "[grpc]\n"
      << "  address = \"" << socket_ << "\"\n"
      << "[ttrpc]\n"
      << "  address = \"" << socket_ << ".ttrpc\"\n"
      << "[debug]\n"
      << "  address = \"\"\n"
      << "  level = \"info\"\n"
      << "[metrics]\n"
      << "  address = \"\"\n"
      << "[plugins]\n"
      << "  [plugins.\"io.containerd.internal.v1.opt\"]\n"
      << "    path = \"" << dir_ << "/opt\"\n"
      << "  [plugins.\"io.containerd.grpc.v1.cri\"]\n"
      << "    sandbox_image = \"" << kPauseImage << "\"\n"
      << "    restrict_oom_score_adj = true\n"
      << "    disable_tcp_service = true\n"
      << "    stream_server_address = \"127.0.0.1\"\n"
      << "    stream_server_port = \"0\"\n"
      << "    [plugins.\"io.containerd.grpc.v1.cri\".cni]\n"
      << "      bin_dir = \"" << dir_ << "/cni/bin\"\n"
      << "      conf_dir = \"" << dir_ << "/cni/conf\"\n"
      << "    [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n"
      << "      snapshotter = \"" << snapshotter_ << "\"\n"
      << "      default_runtime_name = \"runc\"\n"
      << "      [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n"
      << "        runtime_type = \"io.containerd.runc.v2\"\n"
      << "        [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n"
      << "          SystemdCgroup = false\n"
      << "          Root = \"" << dir_ << "/runc\"\n";
  if (!out) {
    throw std::runtime_error("cannot write " + config_);
  }
}

void ContainerdHarness::waitForCri() {
  auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
  std::string last;
  for (;;) {
    int status = 0;
    if (waitpid(containerd_pid_, &status, WNOHANG) == containerd_pid_) {
      containerd_pid_ = -1;
      throw std::runtime_error("containerd exited at start (status " + std::to_string(status) + "); log:\n" +
                               logTail());
    }
    auto version = client_->version();
    if (version) {
      return;
    }
    last = version.error().message();
    if (last.find("UNIMPLEMENTED") != std::string::npos) {
      // Serving, without the CRI service: the plugin failed to load.
      throw std::runtime_error("containerd runs without its CRI plugin: " + last + "; log:\n" + logTail());
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("containerd's CRI did not answer within " +
                               std::to_string(options_.start_timeout.count()) + " s: " + last + "; log:\n" +
                               logTail());
    }
    std::this_thread::sleep_for(50ms);
  }
}

void ContainerdHarness::buildAndImportImages() {
  if (options_.images_script.empty()) {
    throw std::runtime_error("no image build script: set ContainerdHarnessOptions::images_script or compile with "
                             "VIGIL_CRI_IMAGES_SCRIPT=<source>/tests/support/images/build-images.sh");
  }
  std::string images = options_.images_dir.empty() ? dir_ + "/images" : options_.images_dir;
  std::string log = dir_ + "/images.log";
  std::vector<std::string> build = {"bash", options_.images_script, images};
  if (run(build, log) != 0) {
    throw std::runtime_error("building the test images failed: " + join(build) + ":\n" + tail(slurp(log), 4000));
  }
  std::vector<std::string> import = {"ctr",    "--address",     socket_,      "-n", "k8s.io", "images",
                                     "import", "--snapshotter", snapshotter_, images + "/images.tar"};
  if (run(import, log) != 0) {
    throw std::runtime_error("importing the test images failed: " + join(import) + ":\n" + tail(slurp(log), 4000) +
                             "\ncontainerd log:\n" + logTail());
  }
  // The CRI plugin learns of imported images from events: wait until it
  // has them, or RunPodSandbox would try to pull the pause image.
  auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
  for (const char* image : {kBusyboxImage, kPauseImage}) {
    for (;;) {
      auto id = client_->imageId(image);
      if (id && *id) {
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error(std::string("the CRI plugin does not see the imported image ") + image + ": " +
                                 (id ? "not found" : id.error().message()) + "; log:\n" + logTail());
      }
      std::this_thread::sleep_for(20ms);
    }
  }
}

ContainerdHarness::Pod ContainerdHarness::startPod(const std::string& name, const std::string& namespace_name,
                                                   const std::string& uid, const cri::Labels& labels) {
  Pod pod;
  pod.spec.name = name;
  pod.spec.namespace_name = namespace_name;
  pod.spec.uid = uid;
  pod.spec.labels = labels;
  pod.spec.host_network = true;
  // The kubelet's layout: a cgroup per pod under a parent, a cgroup per
  // container under it.
  pod.spec.cgroup_parent = cgroup_parent_ + "/pod" + uid;
  auto id = client_->runPodSandbox(pod.spec);
  if (!id) {
    throw std::runtime_error(id.error().message() + "; containerd log:\n" + logTail());
  }
  pod.sandbox_id = *id;
  return pod;
}

std::string ContainerdHarness::startContainer(const Pod& pod, const std::string& name,
                                              const std::vector<std::string>& command, const cri::Labels& labels,
                                              const std::string& image) {
  cri::ContainerSpec spec;
  spec.name = name;
  spec.image = image;
  spec.command = command;
  spec.labels = labels;
  auto id = client_->createContainer(pod.sandbox_id, spec, pod.spec);
  if (!id) {
    throw std::runtime_error(id.error().message() + "; containerd log:\n" + logTail());
  }
  if (auto st = client_->startContainer(*id); !st) {
    throw std::runtime_error(st.error().message() + "; containerd log:\n" + logTail());
  }
  return *id;
}

pid_t ContainerdHarness::containerPid(const std::string& container_id) {
  auto info = client_->containerVerboseInfo(container_id);
  if (!info) {
    throw std::runtime_error(info.error().message());
  }
  // containerd: info["info"] is JSON with "pid": <n>.
  auto it = info->find("info");
  if (it != info->end()) {
    const std::string& json = it->second;
    auto key = json.find("\"pid\":");
    if (key != std::string::npos) {
      size_t pos = key + 6;
      while (pos < json.size() && json[pos] == ' ') {
        ++pos;
      }
      pid_t pid = 0;
      while (pos < json.size() && json[pos] >= '0' && json[pos] <= '9') {
        pid = pid * 10 + (json[pos++] - '0');
      }
      if (pid > 0) {
        return pid;
      }
    }
  }
  throw std::runtime_error("ContainerStatus(verbose) of " + container_id + " names no pid");
}

std::string ContainerdHarness::logTail(size_t bytes) const {
  if (log_.empty()) {
    return "";
  }
  // Warnings and errors first (they say why), then the end of the log.
  std::istringstream in(slurp(log_));
  std::string line, problems;
  while (std::getline(in, line)) {
    if (line.find("level=error") != std::string::npos || line.find("level=fatal") != std::string::npos ||
        line.find("level=warn") != std::string::npos) {
      problems += line + "\n";
    }
  }
  return "[warnings and errors]\n" + tail(problems, bytes) + "[end of log]\n" + tail(slurp(log_), bytes / 2);
}

// --- teardown ------------------------------------------------------------------------

void ContainerdHarness::teardown() {
  if (torn_down_) {
    return;
  }
  torn_down_ = true;
  if (client_ && containerd_pid_ > 0) {
    if (auto ids = client_->listPodSandboxIds()) {
      // In parallel: each stop waits for its processes to exit.
      std::vector<std::thread> stoppers;
      for (const auto& id : *ids) {
        stoppers.emplace_back([this, id] {
          (void)client_->stopPodSandbox(id);
          (void)client_->removePodSandbox(id);
        });
      }
      for (auto& t : stoppers) {
        t.join();
      }
    }
  }
  client_.reset();
  stopContainerd();
  if (!dir_.empty()) {
    cleanUp(dir_);
  }
}

void ContainerdHarness::stopContainerd() {
  if (containerd_pid_ <= 0) {
    return;
  }
  kill(containerd_pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(containerd_pid_, &status, WNOHANG);
    if (r == containerd_pid_ || (r < 0 && errno != EINTR)) {
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill(containerd_pid_, SIGKILL);
      waitpid(containerd_pid_, nullptr, 0);
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  containerd_pid_ = -1;
}

} // namespace vigil::test
