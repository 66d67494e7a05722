// User-space cost per record: decoding ring buffer records into events, and
// rendering them as JSON, against a baseline that only copies the bytes.
//   build/bench/vigil_decode_bench [--benchmark_filter=...]

#include "agent/enrich/process_cache.h"
#include "proto/json.h"
#include "collectors/process/decoder.h"
#include "collectors/syscall/decoder.h"
#include "shared/process.h"
#include "shared/syscall.h"

#include <benchmark/benchmark.h>
#include <google/protobuf/arena.h>
#include <google/protobuf/util/json_util.h>

#include <cstring>
#include <string>
#include <sys/syscall.h>
#include <vector>

namespace {

using vigil::Event;
using vigil::runtime::BootClock;
using vigil::process::Decoder;

void fillTask(vigil_task_info& t, uint32_t pid) {
  t.pid = pid;
  t.tid = pid;
  t.ppid = 1;
  t.start_ns = 1000000000ULL;
  t.exec_id = 1000000001ULL;
  t.parent_exec_id = 10000000ULL;
  t.cgroup_id = 1;
  t.cap_effective = 0;
  t.cap_permitted = 0;
  t.uid = t.gid = t.euid = t.egid = 1000;
  t.auid = 1000;
  t.pidns = t.mntns = t.netns = 4026531836u;
  std::strncpy(t.comm, "curl", sizeof(t.comm));
}

// A typical exec record: 4 args, a 3-component binary path, a 2-component cwd.
std::vector<uint8_t> execRecord() {
  const std::string argv("curl\0-s\0https://example.com/api\0-o\0", 35);
  const std::string exe("curl\0bin\0usr\0", 13);
  const std::string cwd("alice\0home\0", 11);
  const std::string filename("/usr/bin/curl\0", 14);
  vigil_exec_event ev{};
  fillTask(ev.task, 4242);
  ev.exe_ino = 1234;
  ev.exe_dev = (254u << 20) | 1;
  ev.argv_len = uint32_t(argv.size());
  ev.exe_len = uint32_t(exe.size());
  ev.cwd_len = uint32_t(cwd.size());
  ev.filename_len = uint32_t(filename.size());
  std::vector<uint8_t> out(sizeof(ev));
  for (const auto* part : {&argv, &exe, &cwd, &filename}) {
    out.insert(out.end(), part->begin(), part->end());
  }
  ev.hdr = {VIGIL_EV_EXEC, VIGIL_EXEC_VERSION, uint32_t(out.size()), 2000000000ULL, 0, 0};
  std::memcpy(out.data(), &ev, sizeof(ev));
  return out;
}

std::vector<uint8_t> exitRecord() {
  vigil_exit_event ev{};
  fillTask(ev.task, 4242);
  ev.exit_code = 3 << 8;
  ev.hdr = {VIGIL_EV_EXIT, VIGIL_EXIT_VERSION, uint32_t(sizeof(ev)), 2000000000ULL, 0, 0};
  std::vector<uint8_t> out(sizeof(ev));
  std::memcpy(out.data(), &ev, sizeof(ev));
  return out;
}

void BM_CopyOnly(benchmark::State& state) {
  auto rec = execRecord();
  std::vector<uint8_t> dst(rec.size());
  for (auto _ : state) {
    std::memcpy(dst.data(), rec.data(), rec.size());
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CopyOnly);

// Decoding one record into a fresh event, as the collector does per record.
void BM_Decode(benchmark::State& state, std::vector<uint8_t> rec) {
  Decoder decoder(BootClock(0));
  for (auto _ : state) {
    auto event = std::make_unique<Event>();
    auto kind = decoder.decode(rec, *event);
    benchmark::DoNotOptimize(kind.ok());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_Decode, Exec, execRecord());
BENCHMARK_CAPTURE(BM_Decode, Exit, exitRecord());

// The same, into an event on a protobuf arena whose block is reused for every
// record (the pipeline's event pool): no heap allocation per record.
void BM_DecodePooled(benchmark::State& state, std::vector<uint8_t> rec) {
  Decoder decoder(BootClock(0));
  std::vector<char> block(64 << 10);
  google::protobuf::ArenaOptions options;
  options.initial_block = block.data();
  options.initial_block_size = block.size();
  google::protobuf::Arena arena(options);
  for (auto _ : state) {
    auto* event = google::protobuf::Arena::CreateMessage<Event>(&arena);
    auto kind = decoder.decode(rec, *event);
    benchmark::DoNotOptimize(kind.ok());
    arena.Reset();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_DecodePooled, Exec, execRecord());
BENCHMARK_CAPTURE(BM_DecodePooled, Exit, exitRecord());

void BM_DecodeEnrichRenderExec(benchmark::State& state) {
  Decoder decoder(BootClock(0));
  vigil::ProcessCache cache;
  auto rec = execRecord();
  std::string json;
  for (auto _ : state) {
    auto event = std::make_unique<Event>();
    (void)decoder.decode(rec, *event);
    cache.enrich(*event);
    auto st = vigil::renderJson(*event, json);
    benchmark::DoNotOptimize(st.ok());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeEnrichRenderExec);

// A traced getppid of the curl process above, recorded whole at exit: the
// small event of the saturation and syscall-overhead benchmarks.
std::vector<uint8_t> getppidRecord() {
  vigil_sys_event ev{};
  ev.pid = ev.tid = 4242;
  ev.exec_id = 1000000001ULL;
  ev.cgroup_id = 1;
  ev.uid = ev.gid = 1000;
  ev.enter_ns = 2000000500ULL;
  ev.ret = 1;
  ev.nr = SYS_getppid;
  ev.flags = VIGIL_SYS_F_EXIT_ONLY;
  std::strncpy(ev.comm, "curl", sizeof(ev.comm));
  ev.hdr = {VIGIL_EV_SYSCALL, VIGIL_SYSCALL_VERSION, uint32_t(sizeof(ev)), 2000000500ULL, 0, 0};
  std::vector<uint8_t> out(sizeof(ev));
  std::memcpy(out.data(), &ev, sizeof(ev));
  return out;
}

// What the agent does per small event: decode a getppid record into pooled
// event memory and attach its caller's image and parent from the process
// cache (which knows the exec above); with json, also render it.
void BM_SyscallDecodeEnrich(benchmark::State& state, bool json) {
  Decoder exec_decoder(BootClock(0));
  vigil::syscall::Decoder decoder(BootClock(0), {});
  decoder.setArgNames(SYS_getppid, {}); // as the agent does, from its tracepoint format
  vigil::ProcessCache cache;
  {
    Event exec;
    (void)exec_decoder.decode(execRecord(), exec);
    cache.enrich(exec);
  }
  auto rec = getppidRecord();
  std::vector<char> block(64 << 10);
  google::protobuf::ArenaOptions options;
  options.initial_block = block.data();
  options.initial_block_size = block.size();
  google::protobuf::Arena arena(options);
  std::string out;
  for (auto _ : state) {
    auto* event = google::protobuf::Arena::CreateMessage<Event>(&arena);
    auto st = decoder.decode(rec, *event);
    cache.enrich(*event);
    if (json) {
      st = vigil::renderJson(*event, out);
    }
    benchmark::DoNotOptimize(st.ok());
    arena.Reset();
  }
  state.SetItemsProcessed(state.iterations());
  if (json) {
    state.counters["bytes"] = double(out.size());
  }
}
BENCHMARK_CAPTURE(BM_SyscallDecodeEnrich, Count, false);
BENCHMARK_CAPTURE(BM_SyscallDecodeEnrich, Json, true);

Event decodedExec() {
  Event event;
  (void)Decoder(BootClock(0)).decode(execRecord(), event);
  return event;
}

// Rendering a decoded exec event as JSON with render.
template <vigil::Status (*render)(const Event&, std::string&)>
void renderExec(benchmark::State& state) {
  const Event event = decodedExec();
  std::string json;
  for (auto _ : state) {
    auto st = render(event, json);
    benchmark::DoNotOptimize(st.ok());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes"] = double(json.size());
}

void BM_RenderJsonExec(benchmark::State& state) { renderExec<vigil::renderJson>(state); }
BENCHMARK(BM_RenderJsonExec);

// The same with the reflection writer renderJson's generated writer replaced
// (kept as the reference the tests compare it with).
void BM_RenderJsonExecReflection(benchmark::State& state) { renderExec<vigil::renderJsonReflection>(state); }
BENCHMARK(BM_RenderJsonExecReflection);

// The binary form (the audit log's wire record), for comparison with JSON.
void BM_SerializeExec(benchmark::State& state) {
  const Event event = decodedExec();
  std::string bytes;
  for (auto _ : state) {
    bytes.clear();
    bool ok = event.SerializeToString(&bytes);
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes"] = double(bytes.size());
}
BENCHMARK(BM_SerializeExec);

// Baseline for the renderer: protobuf's own JSON printer, same options.
void BM_RenderJsonExecProtobufPrinter(benchmark::State& state) {
  const Event event = decodedExec();
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  for (auto _ : state) {
    json.clear();
    auto st = google::protobuf::util::MessageToJsonString(event, &json, options);
    benchmark::DoNotOptimize(st.ok());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes"] = double(json.size());
}
BENCHMARK(BM_RenderJsonExecProtobufPrinter);

} // namespace

BENCHMARK_MAIN();
