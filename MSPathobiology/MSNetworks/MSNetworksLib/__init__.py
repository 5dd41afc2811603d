"""Display geometry for MSNetworks (pure numpy + VTK, no Slicer): the displayed subset of a
tractogram, region centroids, connectome glyphs (spheres + tubes) and the matrix picture."""
