-- Stories taken down (canceled, withheld), newest change first: the kill signals that feeds and
-- the API pass downstream.
CREATE INDEX stories_gone ON stories (state, changed_at DESC, id DESC)
    WHERE state IN ('canceled', 'withheld');
