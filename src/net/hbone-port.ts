/** HBONE's port by Istio convention (ztunnel `HBONE_PORT`), at rank 0 so the mesh compiler and the HBONE layer share it. */
export const HBONE_PORT = 15008;
