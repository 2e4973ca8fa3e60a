package ddl

import "strings"

// fromHead classifies a statement the parser could not read from its first tokens:
//
//	CREATE [OR REPLACE] [ONLINE|OFFLINE] [TEMPORARY] [ALGORITHM=x] [DEFINER=u[@h]]
//	       [SQL SECURITY x] [AGGREGATE] [UNIQUE|FULLTEXT|SPATIAL] kind [IF [NOT] EXISTS] name ...
//	ALTER [ONLINE] [IGNORE] ... kind [IF EXISTS] name ...
//	DROP [TEMPORARY] kind [IF EXISTS] name[, name...]
//	RENAME TABLE a TO b[, c TO d] / TRUNCATE [TABLE] name
//
// A trigger changes the table after ON; CREATE/DROP INDEX the table after ON.
func (s *Stmt) fromHead() {
	toks, _ := scan(s.Text)
	i := 0
	at := func(words ...string) bool {
		for j, w := range words {
			if i+j >= len(toks) || !toks[i+j].is(w) {
				return false
			}
		}
		return true
	}
	skip := func(words ...string) bool {
		if at(words...) {
			i += len(words)
			return true
		}
		return false
	}
	// name reads [db.]name and returns the object, or ok false.
	name := func() (Object, bool) {
		if i >= len(toks) || !toks[i].ident() {
			return Object{}, false
		}
		if i+2 < len(toks) && toks[i+1].kind == 'p' && toks[i+1].text == "." && toks[i+2].ident() {
			o := Object{DB: toks[i].text, Name: toks[i+2].text}
			i += 3
			return o, true
		}
		i++
		return Object{DB: s.DefaultDB, Name: toks[i-1].text}, true
	}
	punct := func(p string) bool {
		if i < len(toks) && toks[i].kind == 'p' && toks[i].text == p {
			i++
			return true
		}
		return false
	}
	if len(toks) == 0 || toks[0].kind != 'w' {
		return
	}
	verb := strings.ToUpper(toks[0].text)
	i = 1
	switch verb {
	case "RENAME":
		if !skip("TABLE") && !skip("TABLES") {
			return
		}
		s.Kind = RenameTable
		for {
			a, ok := name()
			if !ok || !skip("TO") {
				return
			}
			b, ok := name()
			if !ok {
				return
			}
			s.Changes = append(s.Changes, a, b)
			if !punct(",") {
				return
			}
		}
	case "TRUNCATE":
		skip("TABLE")
		if o, ok := name(); ok {
			s.Kind, s.Changes = TruncateTable, []Object{o}
		}
		return
	case "GRANT", "REVOKE", "FLUSH", "ANALYZE", "OPTIMIZE", "REPAIR", "CHECK", "CHECKSUM", "SET", "INSTALL", "UNINSTALL":
		s.Kind = Admin
		return
	case "CREATE", "ALTER", "DROP":
		if at("USER") || at("ROLE") || at("SERVER") {
			s.Kind = Admin
			return
		}
	default:
		return
	}
	// modifiers
	for i < len(toks) {
		switch {
		case skip("OR", "REPLACE"):
			s.OrReplace = true
		case skip("TEMPORARY"):
			s.Temporary = true
		case skip("ONLINE"), skip("OFFLINE"), skip("IGNORE"), skip("AGGREGATE"),
			skip("UNIQUE"), skip("FULLTEXT"), skip("SPATIAL"), skip("SQL", "SECURITY", "DEFINER"), skip("SQL", "SECURITY", "INVOKER"):
		case skip("ALGORITHM"):
			punct("=")
			i++
		case skip("DEFINER"):
			punct("=")
			i++ // user, or CURRENT_USER
			if punct("(") {
				punct(")")
			}
			if punct("@") {
				i++
			}
		default:
			goto kind
		}
	}
kind:
	if i >= len(toks) {
		return
	}
	word := strings.ToUpper(toks[i].text)
	if toks[i].kind != 'w' {
		return
	}
	i++
	kinds := map[string]Kind{"TABLE": CreateTable, "INDEX": CreateIndex, "KEY": CreateIndex, "VIEW": CreateView,
		"TRIGGER": CreateTrigger, "PROCEDURE": CreateProcedure, "FUNCTION": CreateFunction, "EVENT": CreateEvent,
		"SEQUENCE": CreateSequence, "DATABASE": CreateDatabase, "SCHEMA": CreateDatabase}
	k, ok := kinds[word]
	if !ok {
		return
	}
	k = Kind(verb + strings.TrimPrefix(string(k), "CREATE"))
	switch k {
	case "ALTER INDEX", "ALTER TRIGGER":
		return
	}
	s.Kind = k
	if skip("IF", "NOT", "EXISTS") {
		s.IfNotExists = true
	} else if skip("IF", "EXISTS") {
		s.IfExists = true
	}
	switch {
	case k.DatabaseLevel():
		if i < len(toks) && toks[i].ident() && !(k == AlterDatabase && toks[i].kind == 'w' && isDBOptionWord(toks[i].text)) {
			s.Changes = []Object{{DB: toks[i].text}}
		} else if k == AlterDatabase {
			s.Changes = []Object{{DB: s.DefaultDB}}
		}
	case k == CreateIndex || k == DropIndex || k == CreateTrigger:
		for ; i < len(toks); i++ {
			if toks[i].is("ON") {
				i++
				if o, ok := name(); ok {
					s.Changes = []Object{o}
				}
				return
			}
		}
	case k == DropTrigger:
		// the trigger's table is not named: the whole database of the trigger
		if o, ok := name(); ok {
			s.Changes = []Object{{DB: o.DB}}
		}
	default:
		for {
			o, ok := name()
			if !ok {
				return
			}
			s.Changes = append(s.Changes, o)
			if k != DropTable && k != DropView && k != DropSequence || !punct(",") {
				break
			}
		}
		if k == AlterTable {
			// ALTER TABLE t ... RENAME [TO|AS] u (not RENAME COLUMN/INDEX/KEY)
			for ; i < len(toks); i++ {
				if toks[i].is("RENAME") {
					i++
					if skip("COLUMN") || skip("INDEX") || skip("KEY") {
						continue
					}
					if !skip("TO") {
						skip("AS")
					}
					if o, ok := name(); ok {
						s.Changes = append(s.Changes, o)
					}
					return
				}
			}
		}
	}
}

func isDBOptionWord(w string) bool {
	switch strings.ToUpper(w) {
	case "DEFAULT", "CHARACTER", "CHARSET", "COLLATE", "COMMENT", "UPGRADE", "READ":
		return true
	}
	return false
}
