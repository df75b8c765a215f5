/* Preloaded ahead of gcc's libasan when fuzzing (see .ci/fuzz.sh). libasan defines weak
 * no-op __sanitizer_cov_* callbacks, and a preloaded library wins symbol lookup, so
 * atheris' libFuzzer (loaded later, with the real callbacks) would never see the coverage
 * of the instrumented Python code. These definitions come first and forward each call to
 * libFuzzer's own (found by dlsym in the module named by PYSOCK2_FUZZ_CORE). Each forward
 * is a tail call, so libFuzzer still sees the original caller's return address. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>

static void *
libfuzzer_symbol(const char *name)
{
    static void *core;
    if (core == NULL) {
        const char *path = getenv("PYSOCK2_FUZZ_CORE");
        core = path ? dlopen(path, RTLD_NOW | RTLD_NOLOAD) : NULL;
        if (core == NULL) {
            return NULL;
        }
    }
    return dlsym(core, name);
}

#define FORWARD(name, params, args)                                                       \
    void name params                                                                      \
    {                                                                                     \
        static void (*target) params;                                                     \
        if (target == NULL) {                                                             \
            target = (void (*) params)libfuzzer_symbol(#name);                            \
            if (target == NULL) {                                                         \
                return;                                                                   \
            }                                                                             \
        }                                                                                 \
        target args;                                                                      \
    }

FORWARD(__sanitizer_cov_8bit_counters_init, (uint8_t *start, uint8_t *stop), (start, stop))
FORWARD(__sanitizer_cov_pcs_init, (const uintptr_t *start, const uintptr_t *stop), (start, stop))
FORWARD(__sanitizer_cov_trace_cmp1, (uint8_t a, uint8_t b), (a, b))
FORWARD(__sanitizer_cov_trace_cmp2, (uint16_t a, uint16_t b), (a, b))
FORWARD(__sanitizer_cov_trace_cmp4, (uint32_t a, uint32_t b), (a, b))
FORWARD(__sanitizer_cov_trace_cmp8, (uint64_t a, uint64_t b), (a, b))
FORWARD(__sanitizer_cov_trace_const_cmp1, (uint8_t a, uint8_t b), (a, b))
FORWARD(__sanitizer_cov_trace_const_cmp2, (uint16_t a, uint16_t b), (a, b))
FORWARD(__sanitizer_cov_trace_const_cmp4, (uint32_t a, uint32_t b), (a, b))
FORWARD(__sanitizer_cov_trace_const_cmp8, (uint64_t a, uint64_t b), (a, b))
FORWARD(__sanitizer_cov_trace_switch, (uint64_t value, uint64_t *cases), (value, cases))
FORWARD(__sanitizer_cov_trace_div4, (uint32_t value), (value))
FORWARD(__sanitizer_cov_trace_div8, (uint64_t value), (value))
FORWARD(__sanitizer_cov_trace_gep, (uintptr_t index), (index))
FORWARD(__sanitizer_cov_trace_pc_indir, (uintptr_t callee), (callee))

/* gcc's -fsanitize-coverage=trace-cmp also traces float comparisons, which libFuzzer has
 * no callback for. */
void __sanitizer_cov_trace_cmpf(float a, float b) { (void)a; (void)b; }
void __sanitizer_cov_trace_cmpd(double a, double b) { (void)a; (void)b; }
