/*
 * The runtime's claim, takeover and cancellation protocol (docs/adr/0011, the lead's
 * RUNTIME-PROTOCOL sketch), for one queued workflow on the file store.
 *
 * NP worker processes claim the workflow (non-blocking exclusive writer lock), re-read it,
 * run its NN nodes in order, record the final status and remove the ready entry. Any worker
 * may crash between any two steps (at most MAXCRASH crashes in all); a crash releases the
 * locks it held, as the kernel releases a dead process's flock, stops the node it ran, and
 * the worker starts again from nothing. A canceller writes a durable cancel request, then
 * tries the writer lock and records `cancelled` itself when it gets it.
 *
 * Assumptions, and why each guard is there: Models/README.md. scripts/check-model.sh
 * verifies the model and then removes each guard in turn, requiring a counterexample.
 *
 * Guards, each removed by one macro:
 *   NO_LOCK              step 5: the writer lock is exclusive (try-lock always "succeeds")
 *   READ_BEFORE_LOCK     step 5: the claimer reads the workflow after it holds the lock
 *   NO_FINAL_CHECK       step 5: a claimer that finds the workflow final only removes the entry
 *   NO_CANCEL_CHECK      step 5: a claimer that finds a cancel request records cancelled
 *   NO_POLL              the owner checks the request while a node runs and before `completed`
 *   EARLY_ENTRY_REMOVAL  the ready entry goes before the final status is durable
 *   NO_CANCELLER_LOCK    cancel() records `cancelled` only while holding the writer lock
 *   LEAKED_LOCK          (an assumption, not a guard) a crash does not release the lock
 * and NO_CANCELLER leaves the canceller out (with NO_LOCK: the two-owners counterexample).
 */

#ifndef NP
#define NP 2            /* worker processes */
#endif
#ifndef NN
#define NN 2            /* nodes of the workflow, run in this order */
#endif
#ifndef MAXCRASH
#define MAXCRASH 2      /* crashes in one execution, over all processes */
#endif

mtype = { NONE, COMPLETED, CANCELLED };

/* ---- durable records (files that survive every crash) ---- */
mtype status = NONE;    /* the workflow's final status; NONE while queued or running */
bit done[NN];           /* node k recorded completed */
bit entry = 1;          /* ready/<entry>: submit created it before it returned */
bit cancelReq = 0;      /* <workflow>/cancel-request */

/* ---- the liveness primitive: flock on the workflow's lock file ---- */
byte owner = 0;         /* 0 free, else the holder's id (workers 1..NP, canceller NP+1) */

/* ---- ghost variables: observation only, no process decides on them ---- */
byte inNode = 0;        /* processes running a node of the workflow right now */
bit fresh[NP];          /* the cancel request landed after worker i's last check before `completed` */
bit raced = 0;          /* `completed` was recorded over a request that landed in that window */
byte crashes = 0;

/* A final status is recorded once and never changed. */
#define RECORD(s) atomic { printf("P%d: records %e\n", me, s); assert(status == NONE); status = s }

#ifdef NO_LOCK
#define TRYLOCK(who, got) got = 1
#define UNLOCK(who) skip
#else
#define TRYLOCK(who, got) atomic { if :: owner == 0 -> owner = who; got = 1 :: else -> got = 0 fi }
#define UNLOCK(who) atomic { assert(owner == who); owner = 0 }
#endif

#ifdef LEAKED_LOCK
#define RELEASE_ON_CRASH(who) skip
#else
#define RELEASE_ON_CRASH(who) if :: owner == who -> owner = 0 :: else -> skip fi
#endif

/* A crash may happen here: the process jumps to its `crash` label. */
#define CRASHPOINT if :: atomic { crashes < MAXCRASH -> crashes++ }; goto crash :: true -> skip fi

/* A claimer reads the workflow: its node statuses, its final status, the cancel request. */
#define REREAD d_step { for (k : 0 .. NN - 1) { mine[k] = done[k] }; k = 0; seen = status; reqAtClaim = cancelReq }

proctype Worker(byte id) {
    byte me = id + 1;
    bit got;
    bit reqAtClaim;     /* ghost: the request was durable when this claim re-read the workflow */
    bit nodeRunning;
    bit mine[NN];       /* the node statuses this claim read */
    mtype seen;
    byte k;

restart:
    got = 0; reqAtClaim = 0; nodeRunning = 0; k = 0; seen = NONE;
idle:
    /* step 1: list ready/ */
    if
    :: entry -> skip
    :: else -> goto halt        /* nothing queued: this model submits one workflow */
    fi;
#ifdef READ_BEFORE_LOCK
    REREAD;
#endif
    /* step 5: non-blocking writer acquisition */
    TRYLOCK(me, got);
    if
    :: !got -> goto idle        /* another process owns it */
    :: else -> skip
    fi;
    printf("P%d: claims\n", me);
    CRASHPOINT;
#ifndef READ_BEFORE_LOCK
    /* re-read the workflow, now that no other process can change it */
    REREAD;
    CRASHPOINT;
#endif
#ifndef NO_FINAL_CHECK
    if
    :: seen != NONE -> printf("P%d: already final\n", me); goto removeEntry
    :: else -> skip
    fi;
#endif
#ifndef NO_CANCEL_CHECK
    if
    :: reqAtClaim -> printf("P%d: cancel requested, cancels without running\n", me); goto cancelling
    :: else -> skip
    fi;
#endif
    /* run (resume): every node the re-read did not find completed */
    k = 0;
    do
    :: k < NN && mine[k] -> k++
    :: k < NN && !mine[k] ->
        atomic {
            printf("P%d: starts node %d\n", me, k);
            assert(inNode == 0);        /* never two owners running nodes */
            assert(!done[k]);           /* no completed node runs again */
            assert(status == NONE);     /* no node starts in a final workflow */
            assert(!reqAtClaim);        /* a queued workflow with a request is cancelled without running */
            inNode++; nodeRunning = 1
        }
        CRASHPOINT;
        /* the node ends; the owner has polled the request while it ran */
        atomic {
#ifndef NO_POLL
            if
            :: cancelReq -> inNode--; nodeRunning = 0; printf("P%d: sees the request, cancels node %d\n", me, k); goto cancelling
            :: else -> skip
            fi;
#endif
            done[k] = 1; inNode--; nodeRunning = 0; printf("P%d: node %d completed\n", me, k)
        }
        CRASHPOINT;
        k++
    :: k >= NN -> break
    od;
    /* the last check of the request before `completed`; a request landing after it, before the
       record, is the race `raced` marks */
    atomic {
        fresh[id] = 0;
#ifndef NO_POLL
        if
        :: cancelReq -> printf("P%d: sees the request before completing\n", me); goto cancelling
        :: else -> skip
        fi
#endif
    }
    CRASHPOINT;
#ifdef EARLY_ENTRY_REMOVAL
    entry = 0; printf("P%d: removes the entry early\n", me);
    CRASHPOINT;
#endif
    atomic {
        if
        :: cancelReq && fresh[id] -> raced = 1
        :: else -> skip
        fi;
        RECORD(COMPLETED)
    }
    CRASHPOINT;
    goto removeEntry;

cancelling:
#ifdef EARLY_ENTRY_REMOVAL
    entry = 0; printf("P%d: removes the entry early\n", me);
    CRASHPOINT;
#endif
    RECORD(CANCELLED);
    CRASHPOINT;

removeEntry:
    /* step 6: final status durable -> remove the entry -> release */
    entry = 0; printf("P%d: removes the entry\n", me);
    CRASHPOINT;
    UNLOCK(me);
    goto restart;

crash:
    atomic {
        printf("P%d: crashes\n", me);
        RELEASE_ON_CRASH(me);
        if
        :: nodeRunning -> inNode--; nodeRunning = 0
        :: else -> skip
        fi
    }
    goto restart;
halt:
    skip
}

/* cancel(id) from any process, at most once; it may crash too (and is not restarted). */
proctype Canceller() {
    byte me = NP + 1;
    bit got;
    byte i;
#ifdef NO_CANCELLER
    goto out;
#endif
    if
    :: true -> goto out         /* no cancel in this execution */
    :: true -> skip
    fi;
    CRASHPOINT;
    d_step {
        cancelReq = 1;
        for (i : 0 .. NP - 1) { fresh[i] = 1 }
    }
    printf("P%d (canceller): cancel request durable\n", me);
    CRASHPOINT;
#ifdef NO_CANCELLER_LOCK
    got = 1;
#else
    TRYLOCK(me, got);
#endif
    if
    :: !got -> printf("P%d (canceller): lock held, the owner will see the request\n", me); goto out
    :: else -> skip
    fi;
    CRASHPOINT;
    if
    :: status == NONE ->
        RECORD(CANCELLED);
        CRASHPOINT;
        entry = 0; printf("P%d (canceller): removes the entry\n", me);
        CRASHPOINT
    :: else -> skip
    fi;
#ifndef NO_CANCELLER_LOCK
    UNLOCK(me);
#endif
    goto out;
crash:
    atomic { printf("P%d (canceller): crashes\n", me); RELEASE_ON_CRASH(me) }
out:
    skip
}

init {
    byte i;
    atomic {
        for (i : 0 .. NP - 1) { run Worker(i) }
        run Canceller()
    }
}

/* A queued workflow is eventually final and its entry gone (weak fairness; crashes are finite,
   so from some point on every process stays up). */
ltl live { <> (status != NONE && !entry) }

/* A cancel request is never lost: once durable while the workflow is not final, the workflow
   ends cancelled, unless `completed` was recorded by an owner whose last check came before the
   request landed (the one window between a check and a record, see Models/README.md). */
ltl cancel { [] ((cancelReq && status == NONE) -> <> (status == CANCELLED || raced)) }
