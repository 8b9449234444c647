"""The local run: the whole desk on one machine with moto as its AWS; never deployed."""
