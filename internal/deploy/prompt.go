package deploy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// ErrNoMoreAnswers means the answer input ended before the wizard was done (an answers file too
// short, or stdin closed).
var ErrNoMoreAnswers = errors.New("the answer input ended")

// Prompter asks one question at a time on out and reads one answer line from in. On a terminal
// passwords are read without echo; from a file or a pipe every answer, passwords included, is one
// line, so the wizard is scriptable.
type Prompter struct {
	in  *bufio.Reader
	out io.Writer
	fd  int
	tty bool
}

// NewPrompter reads answers from in (a terminal when in is one) and writes questions to out.
func NewPrompter(in io.Reader, out io.Writer) *Prompter {
	p := &Prompter{in: bufio.NewReader(in), out: out, fd: -1}
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.fd, p.tty = int(f.Fd()), true
	}
	return p
}

// Printf writes text to the output.
func (p *Prompter) Printf(format string, a ...any) { fmt.Fprintf(p.out, format, a...) }

func (p *Prompter) readLine(question string) (string, error) {
	line, err := p.in.ReadString('\n')
	if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("%w at %q", ErrNoMoreAnswers, question)
		}
		return "", fmt.Errorf("read answer to %q: %w", question, err)
	}
	if !p.tty {
		p.Printf("\n") // keep a transcript readable when answers come from a file
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// Check validates and normalises an answer; its error message is shown and the question asked
// again.
type Check func(answer string) (string, error)

// Ask asks until check accepts the answer. An empty answer takes def when def is not empty.
func (p *Prompter) Ask(question, def string, check Check) (string, error) {
	for {
		if def != "" {
			p.Printf("%s [%s]: ", question, def)
		} else {
			p.Printf("%s: ", question)
		}
		a, err := p.readLine(question)
		if err != nil {
			return "", err
		}
		a = strings.TrimSpace(a)
		if a == "" {
			a = def
		}
		if check == nil {
			return a, nil
		}
		v, cerr := check(a)
		if cerr == nil {
			return v, nil
		}
		p.Printf("  invalid: %v. Please enter it again.\n", cerr)
	}
}

// Confirm asks a y/n question until the answer is one of y, yes, n, no.
func (p *Prompter) Confirm(question string) (bool, error) {
	a, err := p.Ask(question+" (y/n)", "", YesNo)
	return a == "y", err
}

// Secret asks for a password without echo on a terminal; check may be nil.
func (p *Prompter) Secret(question string, check Check) (string, error) {
	for {
		var a string
		if p.tty {
			b, err := p.readSecret(question)
			p.Printf("\n")
			if err != nil {
				return "", fmt.Errorf("read password for %q: %w", question, err)
			}
			a = string(b)
		} else {
			p.Printf("%s: ", question)
			var err error
			if a, err = p.readLine(question); err != nil {
				return "", err
			}
		}
		if check == nil {
			return a, nil
		}
		v, cerr := check(a)
		if cerr == nil {
			return v, nil
		}
		p.Printf("  invalid: %v. Please enter it again.\n", cerr)
	}
}

// readSecret turns the terminal's echo off before it shows the prompt (someone, or a script,
// typing as soon as the prompt appears was echoed while term.ReadPassword had not yet turned it
// off), reads a line and restores the terminal.
func (p *Prompter) readSecret(question string) ([]byte, error) {
	old, err := unix.IoctlGetTermios(p.fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	quiet.Iflag |= unix.ICRNL
	if err := unix.IoctlSetTermios(p.fd, unix.TCSETS, &quiet); err != nil {
		return nil, err
	}
	defer unix.IoctlSetTermios(p.fd, unix.TCSETS, old) //nolint:errcheck // best effort: the terminal as it was
	p.Printf("%s: ", question)
	return term.ReadPassword(p.fd) // echo already off; it reads the line
}

// Choose shows numbered options and returns the chosen index.
func (p *Prompter) Choose(question string, options []string) (int, error) {
	p.Printf("%s\n", question)
	for i, o := range options {
		p.Printf("  %d) %s\n", i+1, o)
	}
	a, err := p.Ask("Enter a number", "", func(s string) (string, error) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > len(options) {
			return "", fmt.Errorf("%q is not one of 1-%d", s, len(options))
		}
		return s, nil
	})
	if err != nil {
		return 0, err
	}
	n, _ := strconv.Atoi(a)
	return n - 1, nil
}

// YesNo accepts y/yes/n/no in any case and returns "y" or "n".
func YesNo(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "y", "yes":
		return "y", nil
	case "n", "no":
		return "n", nil
	}
	return "", fmt.Errorf("answer y or n, not %q", s)
}
