// The emulator's execution engine and the few CUDA runtime functions the kernels' host code and
// the self-test call (device memory is host memory). See ga_emu.h.
#include "ga_emu.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace ga_emu {
namespace {

constexpr size_t DEFAULT_SMEM_LIMIT = 48 * 1024;
constexpr int OPTIN_SMEM = 227 * 1024;  // what an H100 reports
constexpr auto DEADLOCK_TIMEOUT = std::chrono::seconds(60);

// Generation barrier over the threads still running; threads that exit count as arrived.
struct Barrier {
  std::mutex m;
  std::condition_variable cv;
  int live = 0, arrived = 0;
  uint64_t generation = 0;

  void arrive_and_wait(const char* what) {
    std::unique_lock<std::mutex> lock(m);
    const uint64_t gen = generation;
    if (++arrived == live) {
      arrived = 0;
      ++generation;
      cv.notify_all();
      return;
    }
    if (!cv.wait_for(lock, DEADLOCK_TIMEOUT, [&] { return generation != gen; }))
      fail("deadlock in %s (%d of %d threads arrived)", what, arrived, live);
  }
  void leave() {
    std::lock_guard<std::mutex> lock(m);
    --live;
    if (arrived > 0 && arrived == live) {
      arrived = 0;
      ++generation;
      cv.notify_all();
    }
  }
};

struct Warp {
  Barrier barrier;
  unsigned char slots[32][64];
  const char* tags[32];
};

struct Copy {
  void* dst;
  const void* src;
  int bytes;
};

struct Block {
  Barrier barrier;
  std::vector<std::unique_ptr<Warp>> warps;
  unsigned char* smem = nullptr;
  size_t smem_bytes = 0;
};

struct Thread {
  ThreadState st;
  Block* block = nullptr;
  int linear = 0;
  std::vector<Copy> open_group;
  std::vector<std::vector<Copy>> groups;
};

thread_local Thread* t_self = nullptr;
std::mutex g_attr_mutex;
std::map<const void*, int> g_max_dynamic_smem;  // cudaFuncSetAttribute(MaxDynamicSharedMemorySize)
cudaError_t g_last_error = cudaSuccess;

Thread& self() {
  if (t_self == nullptr) fail("device function called outside an emulated kernel");
  return *t_self;
}

void thread_exit(Thread& th) {
  for (const auto& group : th.groups)
    for (const Copy& c : group)
      if (c.bytes > 0) fail("thread %d exited with a cp.async group never waited for", th.linear);
  if (!th.open_group.empty()) fail("thread %d exited with uncommitted cp.async copies", th.linear);
  th.block->warps[th.linear / 32]->barrier.leave();
  th.block->barrier.leave();
}

}  // namespace

ThreadState& state() { return self().st; }

void fail(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "EMULATOR FAILURE");
  if (t_self != nullptr)
    fprintf(stderr, " (block %u,%u,%u thread %d)", t_self->st.block_idx.x, t_self->st.block_idx.y,
            t_self->st.block_idx.z, t_self->linear);
  fprintf(stderr, ": ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  fflush(stderr);
  abort();
}

void syncthreads() { self().block->barrier.arrive_and_wait("__syncthreads"); }

int lane_id() { return self().linear % 32; }

void warp_exchange(const char* tag, const void* in, size_t bytes, void* all) {
  Thread& th = self();
  Warp& w = *th.block->warps[th.linear / 32];
  if (bytes > sizeof w.slots[0]) fail("warp_exchange of %zu bytes", bytes);
  {
    std::lock_guard<std::mutex> lock(w.barrier.m);
    if (w.barrier.live != 32) fail("%s executed by a partial warp (%d live lanes)", tag, w.barrier.live);
  }
  const int lane = th.linear % 32;
  memcpy(w.slots[lane], in, bytes);
  w.tags[lane] = tag;
  w.barrier.arrive_and_wait(tag);
  for (int l = 0; l < 32; ++l) {
    if (strcmp(w.tags[l], tag) != 0) fail("lane %d runs %s while lane %d runs %s", lane, tag, l, w.tags[l]);
    memcpy(static_cast<unsigned char*>(all) + l * bytes, w.slots[l], bytes);
  }
  w.barrier.arrive_and_wait(tag);  // nobody refills the slots before everyone has read them
}

unsigned char* dynamic_smem() {
  Block& b = *self().block;
  if (b.smem_bytes == 0) fail("dynamic shared memory used but the launch asked for none");
  return b.smem;
}

void check_smem(const void* p, size_t bytes, const char* what) {
  const Block& b = *self().block;
  const unsigned char* c = static_cast<const unsigned char*>(p);
  if (c < b.smem || c + bytes > b.smem + b.smem_bytes)
    fail("%s: shared address %p (+%zu) outside the %zu-byte dynamic shared memory", what, p, bytes, b.smem_bytes);
}

void cp_async(void* dst, const void* src, int src_bytes) {
  check_smem(dst, 16, "cp.async");
  if (((uintptr_t)dst & 15) != 0 || ((uintptr_t)src & 15) != 0)
    fail("cp.async with unaligned address (dst %p, src %p)", dst, src);
  if (src_bytes < 0 || src_bytes > 16) fail("cp.async src-size %d", src_bytes);
  memset(dst, 0xff, 16);  // poison until the copy completes
  self().open_group.push_back({dst, src, src_bytes});
}

void cp_commit() {
  Thread& th = self();
  th.groups.push_back(std::move(th.open_group));
  th.open_group.clear();
}

void cp_wait(int pending_allowed) {
  Thread& th = self();
  while ((int)th.groups.size() > pending_allowed) {
    for (const Copy& c : th.groups.front()) {
      if (c.bytes > 0) memcpy(c.dst, c.src, c.bytes);
      memset(static_cast<char*>(c.dst) + c.bytes, 0, 16 - c.bytes);
    }
    th.groups.erase(th.groups.begin());
  }
}

void launch(const void* kernel_id, dim3 grid, dim3 block, size_t smem, const std::function<void()>& body) {
  const unsigned threads = block.x * block.y * block.z;
  int limit;
  {
    std::lock_guard<std::mutex> lock(g_attr_mutex);
    auto it = g_max_dynamic_smem.find(kernel_id);
    limit = it == g_max_dynamic_smem.end() ? (int)DEFAULT_SMEM_LIMIT : it->second;
  }
  if (threads == 0 || threads > 1024 || threads % 32 != 0 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
      grid.y > 65535 || grid.z > 65535 || grid.x > 0x7fffffffu || smem > (size_t)limit) {
    fprintf(stderr, "emulator: launch rejected: grid (%u,%u,%u) block (%u,%u,%u) smem %zu (limit %d)\n", grid.x,
            grid.y, grid.z, block.x, block.y, block.z, smem, limit);
    g_last_error = smem > (size_t)limit ? cudaErrorInvalidValue : cudaErrorInvalidConfiguration;
    return;
  }
  static const bool trace = getenv("GA_EMU_TRACE") != nullptr;
  if (trace)
    fprintf(stderr, "emulator: launch %p grid (%u,%u,%u) block %u smem %zu\n", kernel_id, grid.x, grid.y, grid.z,
            threads, smem);
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        Block blk;
        blk.barrier.live = (int)threads;
        for (unsigned w = 0; w < threads / 32; ++w) {
          blk.warps.emplace_back(new Warp());
          blk.warps.back()->barrier.live = 32;
        }
        std::vector<unsigned char> smem_buf(smem);
        if (smem > 0) memset(smem_buf.data(), 0xa5, smem);  // garbage, as on the device
        blk.smem = smem_buf.data();
        blk.smem_bytes = smem;
        std::vector<std::thread> workers;
        workers.reserve(threads);
        for (unsigned i = 0; i < threads; ++i) {
          workers.emplace_back([&, i] {
            Thread th;
            th.block = &blk;
            th.linear = (int)i;
            th.st.thread_idx = make_uint3(i % block.x, (i / block.x) % block.y, i / (block.x * block.y));
            th.st.block_idx = make_uint3(bx, by, bz);
            th.st.block_dim = block;
            th.st.grid_dim = grid;
            t_self = &th;
            body();
            thread_exit(th);
            t_self = nullptr;
          });
        }
        for (auto& w : workers) w.join();
      }
}

}  // namespace ga_emu

// ---- CUDA runtime stand-ins ------------------------------------------------------------------

extern "C" {

cudaError_t cudaGetLastError(void) {
  const cudaError_t e = ga_emu::g_last_error;
  ga_emu::g_last_error = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError(void) { return ga_emu::g_last_error; }
const char* cudaGetErrorString(cudaError_t e) { return e == cudaSuccess ? "no error" : "emulated CUDA error"; }
cudaError_t cudaGetDevice(int* d) { *d = 0; return cudaSuccess; }
cudaError_t cudaGetDeviceCount(int* n) { *n = 1; return cudaSuccess; }
cudaError_t cudaDeviceGetAttribute(int* v, enum cudaDeviceAttr attr, int) {
  *v = attr == cudaDevAttrMaxSharedMemoryPerBlockOptin ? ga_emu::OPTIN_SMEM : 0;
  return cudaSuccess;
}
cudaError_t cudaFuncSetAttribute(const void* f, enum cudaFuncAttribute attr, int value) {
  if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
    if (value > ga_emu::OPTIN_SMEM) return cudaErrorInvalidValue;
    std::lock_guard<std::mutex> lock(ga_emu::g_attr_mutex);
    ga_emu::g_max_dynamic_smem[f] = value;
  }
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp* p, int) {
  memset(p, 0, sizeof *p);
  strcpy(p->name, "CPU emulator");
  p->major = 9;
  p->multiProcessorCount = 1;
  return cudaSuccess;
}
cudaError_t cudaMalloc(void** p, size_t n) {
  *p = aligned_alloc(256, (n + 255) / 256 * 256);
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFree(void* p) { free(p); return cudaSuccess; }
cudaError_t cudaMemcpy(void* d, const void* s, size_t n, enum cudaMemcpyKind) { if (n) memcpy(d, s, n); return cudaSuccess; }
cudaError_t cudaMemset(void* d, int v, size_t n) { memset(d, v, n); return cudaSuccess; }
cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
cudaError_t cudaEventCreate(cudaEvent_t*) { return cudaErrorNotSupported; }
cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t) { return cudaErrorNotSupported; }
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaErrorNotSupported; }
cudaError_t cudaEventElapsedTime(float*, cudaEvent_t, cudaEvent_t) { return cudaErrorNotSupported; }
cudaError_t cudaEventDestroy(cudaEvent_t) { return cudaErrorNotSupported; }

}  // extern "C"
