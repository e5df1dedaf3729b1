/* cgrad fuzzing — the safetensors reader: any bytes open as a file or are
 * refused with a message; what opens can be read in full. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cg_clear_error();
    cg_safetensors *f = cg_safetensors_open(fuzz_write_file(data, size));
    if (!f) {
        fuzz_require_message();
        return 0;
    }
    cg_frame_begin();
    for (int i = 0; i < cg_safetensors_count(f); i++) {
        const char *name = cg_safetensors_name(f, i);
        int64_t shape[CG_MAX_DIMS];
        int nd = cg_safetensors_shape(f, name, shape);
        cg_tensor *t = cg_safetensors_get(f, name);
        if (nd < 0 || !t)
            abort(); /* listed, so it must be readable */
        char buf[256];
        cg_tensor_str(t, buf, sizeof buf);
        if (cg_safetensors_read_into(f, name, t) != 0)
            abort();
    }
    cg_safetensors_metadata(f, "format");
    cg_frame_end();
    cg_safetensors_close(f);
    return 0;
}
