/* mobileidd -- the gateway daemon (being written). */
#include "config.h"
#include <stdio.h>
int main(void) { puts(PACKAGE_STRING); return 0; }
