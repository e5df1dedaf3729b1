/* wordgen — learns a list of words and makes up more like them, with one of six
 * models: bigram, mlp (Bengio 2003), rnn, gru, lstm or a small GPT. A port of
 * makemore's models; bench/wordgen_torch.py is the same program in PyTorch.
 *
 *   wordgen --model gru --steps 2000            train on /usr/share/dict/words
 *   wordgen --resume wordgen.safetensors         continue, with the checkpoint's settings
 *   wordgen --sample-only --resume CKPT          print words from a checkpoint
 *
 * data.c reads and splits the words, model.c builds the models, train.c trains,
 * sample.c samples, checkpoint.c writes and reads checkpoints, args.c the flags. */
#include "wordgen.h"

int main(int argc, char **argv)
{
    if (asked_version(argc, argv, "wordgen"))
        return 0;
    wg_cfg c;
    int rc = parse_args(argc, argv, &c);
    if (rc != 0)
        return rc == 1 ? 0 : 2;
    words w;
    if ((c.resume && !c.input_given && checkpoint_input(&c) != 0) || words_read(c.input, &w) != 0)
        return 1;
    rc = train(&c, &w);
    words_free(&w);
    return rc;
}
