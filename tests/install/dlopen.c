/* Loads the installed libcgrad.so after start-up, as Python's ctypes or a plugin host
 * does (dlopen), and makes a failing call and a frame on the way: the library's
 * thread-locals must fit the static TLS room such libraries share. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

typedef void *(*unary_fn)(void *);

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    void (*frame_begin)(void) = (void (*)(void))dlsym(lib, "cg_frame_begin");
    void (*frame_end)(void) = (void (*)(void))dlsym(lib, "cg_frame_end");
    int (*frame_depth)(void) = (int (*)(void))dlsym(lib, "cg_frame_depth");
    unary_fn tanh_ = (unary_fn)dlsym(lib, "cg_tanh");
    const char *(*last_error)(void) = (const char *(*)(void))dlsym(lib, "cg_last_error");
    if (!frame_begin || !frame_end || !frame_depth || !tanh_ || !last_error) {
        fprintf(stderr, "dlsym: %s\n", dlerror());
        return 1;
    }
    frame_begin();
    if (tanh_(NULL) || !strstr(last_error(), "cg_tanh: input is NULL") || frame_depth() != 1) {
        fprintf(stderr, "dlopened cgrad: unexpected answer ('%s')\n", last_error());
        return 1;
    }
    frame_end();
    printf("dlopen: loaded and called\n");
    return 0;
}
