/* Simulated scenarios of the "datagram" group (see scenarios_datagram.c). */
#include "sim_test.h"

int main(void)
{
    return sim_test_main("datagram");
}
