"""Every number the project chooses, named once, with its source.

One module per part: ``common`` (geometry, connectivity, sizes), ``phantom``,
``lesions``, ``rims``, ``atrophy``, ``networks``. Code imports the name from
here; no threshold is written twice.
"""
