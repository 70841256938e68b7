/* Simulated scenarios of the "ackfreq" group (see scenarios_ackfreq.c). */
#include "sim_test.h"

int main(void)
{
    return sim_test_main("ackfreq");
}
