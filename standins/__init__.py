"""Protocol-faithful local stand-ins for HSC REST, SIAv2 and spectral-ID services."""
