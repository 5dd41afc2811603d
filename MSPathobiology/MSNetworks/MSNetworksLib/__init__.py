"""Geometry for MSNetworks' 3D display (pure numpy + VTK, no Slicer): streamline polydata,
region centroids, connectome glyphs (spheres + tubes) and the matrix picture."""
