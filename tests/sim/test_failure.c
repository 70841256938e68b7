/* Simulated scenarios of the "failure" group (see scenarios.c). */
#include "sim_test.h"

int main(void)
{
    return sim_test_main("failure");
}
