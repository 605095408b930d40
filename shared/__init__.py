"""KalaKrut's common library: every function imports from here and nowhere else."""
