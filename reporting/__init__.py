"""Reports for people: the offline HTML report of `idres report`."""
