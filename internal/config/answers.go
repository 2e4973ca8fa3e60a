package config

// Exported forms of the file's rules, for the deployment wizard's on-the-spot answer checks.

// ValidHost reports whether s is an IP address or a host name.
func ValidHost(s string) bool { return validHost(s) }

// ValidRegionID reports whether s is a valid cm_region.
func ValidRegionID(s string) bool { return regionRe.MatchString(s) }

// ValidDBName reports whether s is a valid database name.
func ValidDBName(s string) bool { return dbNameRe.MatchString(s) }
