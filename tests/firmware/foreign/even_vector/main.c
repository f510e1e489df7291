/* Reaches main only when the vector table is right. */
int main(void)
{
    for (;;) {
    }
}
