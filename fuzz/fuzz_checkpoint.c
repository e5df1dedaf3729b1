/* cgrad fuzzing — charrnn's checkpoint reading, as `charrnn sample` and
 * `--resume` do it: any bytes are a checkpoint that loads, or are refused with
 * a message, before anything of the size they claim is allocated. */
#include "fuzz_common.h"
#include "../examples/charrnn/charrnn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_file(data, size);
    ckpt_info info;
    cg_safetensors *f = checkpoint_open(path, &info);
    if (!f)
        return 0;
    model m;
    if (model_init(&m, info.cfg.cell, info.vocab.V, info.cfg.hidden, info.cfg.layers) == 0) {
        train_state s = {0};
        s.opt = cg_adam_new(m.params, m.nparams);
        s.carry_h = cg_zeros(CG_SHAPE(info.cfg.layers, info.cfg.batch, info.cfg.hidden));
        s.carry_c = cg_zeros(CG_SHAPE(info.cfg.layers, info.cfg.batch, info.cfg.hidden));
        if (s.opt && s.carry_h && s.carry_c)
            checkpoint_load(f, path, &m, &s);
        cg_tensor_free(s.carry_h);
        cg_tensor_free(s.carry_c);
        cg_optim_free(s.opt);
        model_free(&m);
    }
    cg_safetensors_close(f);
    return 0;
}
