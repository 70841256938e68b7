/* Path initialisation. Validation and migration logic build on this struct. */
#include "path.h"

void tern_path_init(tern_path *p, uint8_t id, const tern_path_addr *addr, int cc_algo, size_t mtu)
{
    memset(p, 0, sizeof(*p));
    p->id = id;
    if (addr)
        p->addr = *addr;
    p->state = TERN_PATH_PROBING;
    p->mtu = mtu;
    tern_rtt_init(&p->rtt);
    tern_cc_init(&p->cc, cc_algo, mtu);
    tern_pacer_init(&p->pacer, mtu);
}
