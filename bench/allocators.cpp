#include "allocators.hpp"

#include <dlfcn.h>
#include <malloc.h>

#include <cstdint>
#include <stdexcept>

namespace sluice::bench {
namespace {

std::string library_of(const void* address) {
  Dl_info info{};
  if (address == nullptr || dladdr(address, &info) == 0 || info.dli_fname == nullptr) return "?";
  return info.dli_fname;
}

void* symbol_address(void* library, const char* name) {
  void* address = dlsym(library, name);
  if (address == nullptr) throw std::runtime_error(std::string("dlsym could not find ") + name);
  return address;
}

void require(bool condition, const std::string& what) {
  if (!condition) throw std::runtime_error("allocator check failed: " + what);
}

bool contains(const std::string& text, const char* part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

std::string resolve_allocators() {
  // mimalloc exports __libc_malloc too, and it comes before libc.so.6 in the lookup order, so
  // the name alone would measure mimalloc twice. dlsym on libc's own handle searches libc.so.6
  // (and its dependency, the loader) only.
  void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
  require(libc != nullptr, "libc.so.6 is not loaded");
  void* glibc_malloc = symbol_address(libc, "__libc_malloc");
  void* glibc_free = symbol_address(libc, "__libc_free");
  auto* glibc_mallinfo2 =
      reinterpret_cast<struct mallinfo2 (*)()>(symbol_address(libc, "mallinfo2"));
  require(contains(library_of(glibc_malloc), "libc.so"), "__libc_malloc is not glibc's");
  require(contains(library_of(glibc_free), "libc.so"), "__libc_free is not glibc's");
  g_glibc_malloc = reinterpret_cast<void* (*)(std::size_t)>(glibc_malloc);
  g_glibc_free = reinterpret_cast<void (*)(void*)>(glibc_free);

  // Each allocator must see its own block in its own statistics.
  {
    const struct mallinfo2 before = glibc_mallinfo2();
    void* block = g_glibc_malloc(4000);
    const struct mallinfo2 after = glibc_mallinfo2();
    g_glibc_free(block);
    require(after.uordblks + after.hblkhd >= before.uordblks + before.hblkhd + 4000,
            "glibc's mallinfo2 does not count a block from the resolved __libc_malloc");
  }
  require(contains(library_of(reinterpret_cast<void*>(&mallocx)), "libjemalloc"),
          "mallocx is not jemalloc's (is Debian's jemalloc prefixed?)");
  require(contains(library_of(reinterpret_cast<void*>(&sdallocx)), "libjemalloc"),
          "sdallocx is not jemalloc's");
  {
    std::uint64_t before = 0;
    std::uint64_t after = 0;
    std::size_t length = sizeof before;
    require(mallctl("thread.allocated", &before, &length, nullptr, 0) == 0,
            "jemalloc's mallctl(thread.allocated) failed");
    void* block = mallocx(4000, 0);
    require(mallctl("thread.allocated", &after, &length, nullptr, 0) == 0,
            "jemalloc's mallctl(thread.allocated) failed");
    sdallocx(block, 4000, 0);
    require(after >= before + 4000, "jemalloc's thread.allocated does not count a mallocx block");
  }
  require(contains(library_of(reinterpret_cast<void*>(&mi_malloc)), "libmimalloc"),
          "mi_malloc is not mimalloc's");
  {
    void* block = mi_malloc(4000);
    const bool in_heap = mi_is_in_heap_region(block);
    mi_free(block);
    require(in_heap, "mi_malloc's block is not in mimalloc's heap");
  }

  return "glibc " + library_of(glibc_malloc) + ", jemalloc " +
         library_of(reinterpret_cast<void*>(&mallocx)) + ", mimalloc " +
         library_of(reinterpret_cast<void*>(&mi_malloc)) + "; the process's malloc is " +
         library_of(dlsym(RTLD_DEFAULT, "malloc")) + " and its __libc_malloc " +
         library_of(dlsym(RTLD_DEFAULT, "__libc_malloc"));
}

}  // namespace sluice::bench
