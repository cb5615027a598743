// Linked with one whole layer of lib/ and only the layers it may use: an undefined symbol here
// is a call that points up the layers.
int main() { return 0; }
