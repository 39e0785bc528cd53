# synx — build and install. GPL-3.0-or-later.
#   make                      release build
#   make install DESTDIR=/tmp/stage PREFIX=/usr
# Variables: PREFIX (/usr/local), SYSCONFDIR (/etc), DESTDIR, BUILD (where the binaries are; default the
# release build), SWIFT. `make install NOBUILD=1 BUILD=.build/debug` installs existing binaries.
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
DESTDIR ?=
SWIFT ?= swift
BUILD ?= .build/release
BINARIES = synxd synxctl synx-analyze synx-report synx-sim

BINDIR = $(DESTDIR)$(PREFIX)/bin
UNITDIR = $(DESTDIR)$(PREFIX)/lib/systemd/system
SYSUSERSDIR = $(DESTDIR)$(PREFIX)/lib/sysusers.d
TMPFILESDIR = $(DESTDIR)$(PREFIX)/lib/tmpfiles.d
CATALOGDIR = $(DESTDIR)$(PREFIX)/lib/systemd/catalog
DATADIR = $(DESTDIR)$(PREFIX)/share/synx
MANDIR = $(DESTDIR)$(PREFIX)/share/man
DOCDIR = $(DESTDIR)$(PREFIX)/share/doc/synx
CONFDIR = $(DESTDIR)$(SYSCONFDIR)/synx

.PHONY: all build install uninstall
all: build

build:
ifndef NOBUILD
	$(SWIFT) build -c release
endif

install: build
	install -d $(BINDIR) $(UNITDIR) $(SYSUSERSDIR) $(TMPFILESDIR) $(CATALOGDIR) $(DATADIR)/profiles \
		$(MANDIR)/man1 $(MANDIR)/man5 $(MANDIR)/man8 $(DOCDIR) $(CONFDIR) \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	for b in $(BINARIES); do install -m 0755 $(BUILD)/$$b $(BINDIR)/$$b; done
	sed -e 's|/usr/bin/|$(PREFIX)/bin/|g' -e 's|/etc/synx/|$(SYSCONFDIR)/synx/|g' systemd/synxd.service > $(UNITDIR)/synxd.service
	chmod 0644 $(UNITDIR)/synxd.service
	install -m 0644 systemd/synx.sysusers $(SYSUSERSDIR)/synx.conf
	install -m 0644 systemd/synx.tmpfiles $(TMPFILESDIR)/synx.conf
	install -m 0644 systemd/synx.catalog $(CATALOGDIR)/synx.catalog
	$(BUILD)/synxd --write-builtin-profiles $(DATADIR)/profiles
	install -m 0644 docs/man/synxctl.1 docs/man/synx-analyze.1 docs/man/synx-report.1 $(MANDIR)/man1/
	install -m 0644 docs/man/synxd.toml.5 $(MANDIR)/man5/
	install -m 0644 docs/man/synxd.8 $(MANDIR)/man8/
	install -m 0644 README.md COPYING docs/*.md $(DOCDIR)/
	test -e $(CONFDIR)/synxd.toml || install -m 0640 etc/synxd.toml $(CONFDIR)/synxd.toml
	$(BUILD)/synxctl --generate-completion-script bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/synxctl
	$(BUILD)/synxctl --generate-completion-script zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_synxctl
	$(BUILD)/synxctl --generate-completion-script fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/synxctl.fish
	@echo "installed. On the target: systemd-sysusers synx.conf; systemd-tmpfiles --create synx.conf;"
	@echo "journalctl --update-catalog; systemctl daemon-reload; systemctl enable --now synxd"

uninstall:
	for b in $(BINARIES); do rm -f $(BINDIR)/$$b; done
	rm -f $(UNITDIR)/synxd.service $(SYSUSERSDIR)/synx.conf $(TMPFILESDIR)/synx.conf $(CATALOGDIR)/synx.catalog
	rm -rf $(DATADIR) $(DOCDIR)
	rm -f $(MANDIR)/man1/synxctl.1 $(MANDIR)/man1/synx-analyze.1 $(MANDIR)/man1/synx-report.1 $(MANDIR)/man5/synxd.toml.5 $(MANDIR)/man8/synxd.8
	rm -f $(DESTDIR)$(PREFIX)/share/bash-completion/completions/synxctl $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_synxctl \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/synxctl.fish
