// Built against an installed hakmem (CMake's find_package(hakmem), or
// pkg-config): C++ new and delete, every form, must be hakmem's, not
// libstdc++'s (which would only reach hakmem through malloc).
//   - each operator's code is in libhakmem or in this program (static
//     link), never in libstdc++ (dladdr);
//   - plain, array, nothrow and aligned forms give blocks of the right size
//     and alignment, with their contents kept, and every delete (sized and
//     aligned ones included) takes them back;
//   - out of memory: the nothrow forms return nullptr, the others throw
//     std::bad_alloc, after calling the new-handler, which may free memory
//     for the retry to succeed.
#include <hakmem.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <initializer_list>
#include <new>

static int failures = 0;
#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                              \
            std::fprintf(stderr, __VA_ARGS__);                                                     \
            std::fputc('\n', stderr);                                                              \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

// Where the code of an operator lives: not libstdc++.
static void expect_ours(const char *name, void *fn)
{
    Dl_info info;
    EXPECT(dladdr(fn, &info) && info.dli_fname, "%s: dladdr failed", name);
    const char *file = info.dli_fname ? info.dli_fname : "?";
    EXPECT(!std::strstr(file, "libstdc++") && !std::strstr(file, "libc++"),
           "%s is libstdc++'s (%s), not hakmem's", name, file);
}

template <typename F> static void *addr(F f)
{
    void *p;
    std::memcpy(&p, &f, sizeof p);
    return p;
}

static void fill_check(unsigned char *p, size_t n, const char *what)
{
    EXPECT(p != nullptr, "%s returned nullptr", what);
    if (!p)
        return;
    EXPECT(hak_usable_size(p) >= n, "%s: usable %zu < %zu", what, hak_usable_size(p), n);
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 7 + 3);
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(i * 7 + 3)) {
            EXPECT(false, "%s: byte %zu changed", what, i);
            break;
        }
}

struct alignas(256) Wide {
    unsigned char bytes[256];
};

static int handler_calls = 0;
static void *reserve = nullptr;
static void release_reserve()
{
    handler_calls++;
    ::operator delete(reserve);
    reserve = nullptr;
    std::set_new_handler(nullptr);   // the next failure throws
}

int main()
{
    typedef void *(*new_fn)(std::size_t);
    typedef void (*del_fn)(void *) noexcept;
    typedef void (*sized_del_fn)(void *, std::size_t) noexcept;
    expect_ours("operator new", addr<new_fn>(&::operator new));
    expect_ours("operator new[]", addr<new_fn>(&::operator new[]));
    expect_ours("operator delete", addr<del_fn>(&::operator delete));
    expect_ours("sized operator delete", addr<sized_del_fn>(&::operator delete));
    typedef void *(*anew_fn)(std::size_t, std::align_val_t);
    expect_ours("aligned operator new", addr<anew_fn>(&::operator new));

    for (size_t n : {size_t(0), size_t(1), size_t(24), size_t(100), size_t(1000), size_t(40000),
                     size_t(3) << 20}) {
        unsigned char *a = new unsigned char[n];
        fill_check(a, n, "new[]");
        delete[] a;
        unsigned char *b = static_cast<unsigned char *>(::operator new(n));
        fill_check(b, n, "operator new");
        ::operator delete(b, n);   // sized
        unsigned char *c = static_cast<unsigned char *>(::operator new(n, std::nothrow));
        fill_check(c, n, "nothrow new");
        ::operator delete(c, std::nothrow);
    }
    for (size_t align : {size_t(32), size_t(64), size_t(4096), size_t(1) << 16, size_t(1) << 21}) {
        for (size_t n : {size_t(8), size_t(300), size_t(70000)}) {
            void *p = ::operator new(n, std::align_val_t(align));
            EXPECT(((uintptr_t)p & (align - 1)) == 0, "new(%zu, align %zu) = %p", n, align, p);
            fill_check(static_cast<unsigned char *>(p), n, "aligned new");
            ::operator delete(p, n, std::align_val_t(align));   // sized and aligned
            void *q = ::operator new[](n, std::align_val_t(align), std::nothrow);
            EXPECT(((uintptr_t)q & (align - 1)) == 0, "new[](%zu, align %zu, nothrow) = %p", n, align, q);
            ::operator delete[](q, std::align_val_t(align));
        }
    }
    Wide *w = new Wide[3];   // alignas(256): the aligned forms, by the compiler
    EXPECT(((uintptr_t)w & 255) == 0, "new Wide[3] = %p, not 256-aligned", (void *)w);
    delete[] w;

    const size_t huge = (size_t)1 << 62;
    EXPECT(::operator new(huge, std::nothrow) == nullptr, "nothrow new of 2^62 bytes");
    EXPECT(::operator new[](huge, std::align_val_t(64), std::nothrow) == nullptr,
           "aligned nothrow new[] of 2^62 bytes");
    bool threw = false;
    try {
        void *p = ::operator new(huge);
        ::operator delete(p);
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    EXPECT(threw, "new of 2^62 bytes did not throw std::bad_alloc");

    // The new-handler runs once (it frees a reserve and uninstalls itself),
    // the retry still cannot succeed: std::bad_alloc.
    reserve = ::operator new(1 << 20);
    std::set_new_handler(release_reserve);
    threw = false;
    try {
        void *p = ::operator new(huge);
        ::operator delete(p);
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    EXPECT(threw && handler_calls == 1, "new-handler: threw %d, called %d times (want 1)", threw,
           handler_calls);

    if (failures) {
        std::fprintf(stderr, "cxx: %d failure(s)\n", failures);
        return 1;
    }
    std::puts("cxx: new and delete are hakmem's: ok");
    return 0;
}
